package project

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fakeRoot makes a minimal install tree.
func fakeRoot(t *testing.T) Root {
	t.Helper()
	dir := t.TempDir()
	files := map[string]string{
		"include/ray/api.h":                   "// api",
		"include/msgpack.hpp":                 "// msgpack",
		"include/nlohmann/json.hpp":           "// nlohmann",
		"lib/libray_api.so":                   "so",
		"bin/default_worker":                  "worker",
		"share/goray/template/BUILD.bazel":    "cc_binary()",
		"share/goray/template/run.sh":         "echo run",
		"share/goray/template/.bazelrc":       "startup",
		"share/goray/template/thirdparty/x/y": "stand-in",
	}
	for p, content := range files {
		full := filepath.Join(dir, p)
		os.MkdirAll(filepath.Dir(full), 0o755)
		mode := os.FileMode(0o644)
		if strings.HasSuffix(p, ".sh") || strings.HasSuffix(p, "default_worker") {
			mode = 0o755
		}
		if err := os.WriteFile(full, []byte(content), mode); err != nil {
			t.Fatal(err)
		}
	}
	return Root{Dir: dir}
}

func TestGenerateWritesASelfContainedProject(t *testing.T) {
	r := fakeRoot(t)
	if err := r.Check(); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "proj")
	if err := Generate(r, out); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"BUILD.bazel", ".bazelrc", "run.sh", "thirdparty/x/y", "thirdparty/include/ray/api.h",
		"thirdparty/include/msgpack.hpp", "thirdparty/include/nlohmann/json.hpp", "thirdparty/lib/libray_api.so", "thirdparty/lib/default_worker", Marker} {
		if _, err := os.Stat(filepath.Join(out, p)); err != nil {
			t.Errorf("%s missing: %v", p, err)
		}
	}
	st, _ := os.Stat(filepath.Join(out, "thirdparty/lib/default_worker"))
	if st.Mode().Perm()&0o111 == 0 {
		t.Error("default_worker lost its executable bit")
	}
	// A second generation replaces the first, dropping what the user added.
	os.WriteFile(filepath.Join(out, "stale.txt"), []byte("x"), 0o644)
	if err := Generate(r, out); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(out, "stale.txt")); err == nil {
		t.Error("regeneration kept an old file")
	}
}

func TestGenerateRefusesForeignDirectories(t *testing.T) {
	r := fakeRoot(t)
	foreign := t.TempDir()
	os.WriteFile(filepath.Join(foreign, "precious.txt"), []byte("keep me"), 0o644)
	err := Generate(r, foreign)
	if err == nil || !strings.Contains(err.Error(), "not a goray project template") {
		t.Fatalf("foreign dir: %v", err)
	}
	if b, _ := os.ReadFile(filepath.Join(foreign, "precious.txt")); string(b) != "keep me" {
		t.Fatal("a foreign directory was touched")
	}
	file := filepath.Join(t.TempDir(), "file")
	os.WriteFile(file, nil, 0o644)
	if err := Generate(r, file); err == nil || !strings.Contains(err.Error(), "not a directory") {
		t.Fatalf("file as dir: %v", err)
	}
	if err := Generate(r, ""); err == nil {
		t.Fatal("empty dir accepted")
	}
	empty := t.TempDir()
	if err := Generate(r, empty); err != nil {
		t.Fatalf("empty dir refused: %v", err)
	}
	if os.Geteuid() != 0 {
		ro := t.TempDir()
		os.Chmod(ro, 0o500)
		if err := Generate(r, filepath.Join(ro, "x")); err == nil {
			t.Fatal("unwritable parent accepted")
		}
	}
	if err := Generate(r, "/proc/goray-cannot-write-here"); err == nil {
		t.Fatal("unwritable dir accepted")
	}
}

func TestCheckAndFindRoot(t *testing.T) {
	r := fakeRoot(t)
	os.Remove(filepath.Join(r.Dir, "lib/libray_api.so"))
	if err := r.Check(); err == nil || !strings.Contains(err.Error(), "libray_api.so") {
		t.Fatalf("incomplete tree: %v", err)
	}
	good := fakeRoot(t)
	t.Setenv("GORAY_HOME", good.Dir)
	found, err := FindRoot()
	if err != nil || found.Dir != good.Dir {
		t.Fatalf("FindRoot: %v %v", found, err)
	}
}
