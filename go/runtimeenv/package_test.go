package runtimeenv

import (
	"archive/zip"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestPackageURI(t *testing.T) {
	sum := strings.Repeat("ab", 32)
	cases := []struct {
		uri string
		ok  bool
	}{
		{PackageURI(sum), true},
		{"gcs://_ray_pkg_" + sum + ".zip", true},
		{"gcs://_ray_pkg_" + strings.ToUpper(sum) + ".zip", false},
		{"gcs://_ray_pkg_" + sum[:62] + ".zip", false},
		{"gcs://_ray_pkg_" + sum, false},
		{"/home/me/project", false},
		{"", false},
	}
	for _, c := range cases {
		got, ok := PackageSum(c.uri)
		if ok != c.ok || (ok && got != sum) {
			t.Errorf("PackageSum(%q) = %q, %v; want ok %v", c.uri, got, ok, c.ok)
		}
	}
}

// writeFiles makes the files (path -> content; content "/" makes a directory) under dir.
func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if content == "/" {
			if err := os.MkdirAll(p, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestPackUnpack(t *testing.T) {
	src := t.TempDir()
	writeFiles(t, src, map[string]string{"a.txt": "alpha", "sub/b.txt": "beta", "empty/": "/"})
	if err := os.WriteFile(filepath.Join(src, "run.sh"), []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("a.txt", filepath.Join(src, "link.txt")); err != nil {
		t.Fatal(err)
	}
	pkg, sum, err := Pack(src)
	if err != nil {
		t.Fatal(err)
	}
	defer os.Remove(pkg)
	// The same files make the same package (one upload), whenever they were written.
	pkg2, sum2, err := Pack(src)
	if err != nil {
		t.Fatal(err)
	}
	os.Remove(pkg2)
	if sum2 != sum {
		t.Errorf("packing twice gave %s then %s", sum, sum2)
	}
	dst := filepath.Join(t.TempDir(), "out")
	if err := Unpack(pkg, dst); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{"a.txt": "alpha", "sub/b.txt": "beta", "link.txt": "alpha", "run.sh": "#!/bin/sh\n"} {
		got, err := os.ReadFile(filepath.Join(dst, name))
		if err != nil || string(got) != want {
			t.Errorf("%s: %q, %v; want %q", name, got, err, want)
		}
	}
	if st, err := os.Stat(filepath.Join(dst, "run.sh")); err != nil || st.Mode().Perm()&0o100 == 0 {
		t.Errorf("run.sh lost its executable bit: %v %v", st.Mode(), err)
	}
	if st, err := os.Stat(filepath.Join(dst, "empty")); err != nil || !st.IsDir() {
		t.Errorf("the empty directory did not come back: %v", err)
	}
	// A changed file is another package.
	writeFiles(t, src, map[string]string{"a.txt": "ALPHA"})
	pkg3, sum3, err := Pack(src)
	if err != nil {
		t.Fatal(err)
	}
	os.Remove(pkg3)
	if sum3 == sum {
		t.Error("a changed directory packed to the same package")
	}
}

// A working_dir named through a symbolic link packs its target's files; a link to a directory
// inside it is refused, not silently left out.
func TestPackSymlinkedDirectories(t *testing.T) {
	root := t.TempDir()
	real := filepath.Join(root, "real")
	writeFiles(t, real, map[string]string{"a.txt": "alpha"})
	link := filepath.Join(root, "link")
	if err := os.Symlink(real, link); err != nil {
		t.Fatal(err)
	}
	pkg, _, err := Pack(link)
	if err != nil {
		t.Fatal(err)
	}
	defer os.Remove(pkg)
	dst := filepath.Join(t.TempDir(), "out")
	if err := Unpack(pkg, dst); err != nil {
		t.Fatal(err)
	}
	if got, err := os.ReadFile(filepath.Join(dst, "a.txt")); err != nil || string(got) != "alpha" {
		t.Errorf("a.txt through the link: %q, %v", got, err)
	}
	other := filepath.Join(root, "other")
	writeFiles(t, other, map[string]string{"b.txt": "beta"})
	if err := os.Symlink(other, filepath.Join(real, "linkdir")); err != nil {
		t.Fatal(err)
	}
	if _, _, err := Pack(real); err == nil || !strings.Contains(err.Error(), "symbolic link to a directory") {
		t.Errorf("a link to a directory inside: %v", err)
	}
	// Bazel's links to its outputs at the top of a project are left out; elsewhere they are not.
	if err := os.Remove(filepath.Join(real, "linkdir")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(other, filepath.Join(real, "bazel-bin")); err != nil {
		t.Fatal(err)
	}
	pkg, _, err = Pack(real)
	if err != nil {
		t.Fatalf("a project with bazel-bin: %v", err)
	}
	defer os.Remove(pkg)
	dst = filepath.Join(t.TempDir(), "out")
	if err := Unpack(pkg, dst); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(filepath.Join(dst, "bazel-bin")); !os.IsNotExist(err) {
		t.Errorf("bazel-bin was packed: %v", err)
	}
	writeFiles(t, filepath.Join(real, "sub"), map[string]string{"c.txt": "gamma"})
	if err := os.Symlink(other, filepath.Join(real, "sub", "bazel-out")); err != nil {
		t.Fatal(err)
	}
	if _, _, err := Pack(real); err == nil || !strings.Contains(err.Error(), "symbolic link to a directory") {
		t.Errorf("a bazel- link below the top: %v", err)
	}
}

func TestPackRefusesWhatIsNoDirectory(t *testing.T) {
	file := filepath.Join(t.TempDir(), "f")
	writeFiles(t, filepath.Dir(file), map[string]string{"f": "x"})
	if _, _, err := Pack(file); !errors.Is(err, ErrNotDirectory) {
		t.Errorf("Pack(a file): %v", err)
	}
	if _, _, err := Pack(filepath.Join(t.TempDir(), "missing")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Pack(a missing directory): %v", err)
	}
}

// A package naming paths outside its directory is refused and leaves nothing behind.
func TestUnpackRefusesEscapes(t *testing.T) {
	for _, name := range []string{"../evil", "/abs/evil", "a/../../evil", `a\..\evil`} {
		pkg := filepath.Join(t.TempDir(), "p.zip")
		f, err := os.Create(pkg)
		if err != nil {
			t.Fatal(err)
		}
		zw := zip.NewWriter(f)
		w, err := zw.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte("x"))
		zw.Close()
		f.Close()
		root := t.TempDir()
		dst := filepath.Join(root, "out")
		err = Unpack(pkg, dst)
		if err == nil || !strings.Contains(err.Error(), "outside its directory") {
			t.Errorf("%s: %v", name, err)
		}
		if left, _ := os.ReadDir(root); len(left) != 0 {
			t.Errorf("%s: left %v", name, left)
		}
	}
	if err := Unpack(filepath.Join(t.TempDir(), "none.zip"), filepath.Join(t.TempDir(), "out")); err == nil {
		t.Error("a missing package unpacked")
	}
}
