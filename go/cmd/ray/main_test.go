package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func run(t *testing.T, args ...string) (string, error) {
	t.Helper()
	cmd := newRoot()
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetArgs(args)
	err := cmd.Execute()
	return out.String(), err
}

func fakeHome(t *testing.T) string {
	dir := t.TempDir()
	for _, p := range []string{"include/ray/api.h", "include/msgpack.hpp", "include/nlohmann/json.hpp", "lib/libray_api.so", "bin/default_worker", "share/goray/template/BUILD.bazel"} {
		os.MkdirAll(filepath.Join(dir, filepath.Dir(p)), 0o755)
		os.WriteFile(filepath.Join(dir, p), []byte("x"), 0o755)
	}
	t.Setenv("GORAY_HOME", dir)
	return dir
}

func TestVersionAndHelp(t *testing.T) {
	out, err := run(t, "--version")
	if err != nil || !strings.Contains(out, "ray, version "+version) {
		t.Fatalf("%q %v", out, err)
	}
	out, err = run(t, "--help")
	if err != nil || !strings.Contains(out, "cpp") {
		t.Fatalf("help: %q %v", out, err)
	}
	out, err = run(t, "cpp", "--help")
	if err != nil || !strings.Contains(out, "--generate-bazel-project-template-to") || !strings.Contains(out, "--show-library-path") {
		t.Fatalf("cpp help: %q %v", out, err)
	}
}

func TestCppCommand(t *testing.T) {
	home := fakeHome(t)
	out, err := run(t, "cpp", "--show-library-path")
	if err != nil || !strings.Contains(out, "Ray C++ include path "+filepath.Join(home, "include")) ||
		!strings.Contains(out, "Ray C++ library path "+filepath.Join(home, "lib")) {
		t.Fatalf("%q %v", out, err)
	}
	dir := filepath.Join(t.TempDir(), "tpl")
	out, err = run(t, "cpp", "--generate-bazel-project-template-to", dir)
	if err != nil || !strings.Contains(out, "cd "+dir+" && bash run.sh") {
		t.Fatalf("%q %v", out, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "thirdparty/lib/libray_api.so")); err != nil {
		t.Fatal(err)
	}
}

func TestCppErrors(t *testing.T) {
	fakeHome(t)
	if _, err := run(t, "cpp"); err == nil || !strings.Contains(err.Error(), "needs --show-library-path") {
		t.Fatalf("no flag: %v", err)
	}
	if _, err := run(t, "cpp", "--generate-bazel-project-template-to", ""); err == nil {
		t.Fatal("empty dir accepted")
	}
	if _, err := run(t, "cpp", "--generate-bazel-project-template-to"); err == nil {
		t.Fatal("missing value accepted")
	}
	if _, err := run(t, "cpp", "--bogus"); err == nil {
		t.Fatal("unknown flag accepted")
	}
	if _, err := run(t, "bogus"); err == nil {
		t.Fatal("unknown command accepted")
	}
	t.Setenv("GORAY_HOME", t.TempDir())
	if _, err := run(t, "cpp", "--show-library-path"); err == nil || !strings.Contains(err.Error(), "incomplete") {
		t.Fatalf("empty home: %v", err)
	}
}

func TestEntrypointOf(t *testing.T) {
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"bash run.sh && echo done"}, "bash run.sh && echo done"},
		{[]string{"bash", "run.sh"}, "bash run.sh"},
		{[]string{"echo", "a b", "it's", "$HOME"}, `echo 'a b' 'it'\''s' '$HOME'`},
		{[]string{"./example", "--ray_address=127.0.0.1:6379"}, "./example --ray_address=127.0.0.1:6379"},
	}
	for _, c := range cases {
		if got := entrypointOf(c.args); got != c.want {
			t.Errorf("%q: %q, want %q", c.args, got, c.want)
		}
	}
}
