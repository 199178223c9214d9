package nodelogs

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestListAndTail(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "logs")
	if err := os.MkdirAll(filepath.Join(dir, "sub"), 0o700); err != nil {
		t.Fatal(err)
	}
	write := func(path, text string) {
		if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(filepath.Join(dir, "raylet.out"), "one\ntwo\nthree\n")
	write(filepath.Join(dir, "worker-1.err"), "oops")
	write(filepath.Join(root, "secret"), "outside")
	_ = os.Symlink("raylet.out", filepath.Join(dir, "ray.INFO"))
	_ = os.Symlink(filepath.Join(root, "secret"), filepath.Join(dir, "escape.log"))
	files, err := List(dir, "")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range files {
		names = append(names, f.Name)
	}
	if strings.Join(names, ",") != "ray.INFO,raylet.out,worker-1.err" {
		t.Errorf("listed %v (no directory, no link out of it)", names)
	}
	if files, _ := List(dir, "worker-*"); len(files) != 1 || files[0].Size != 4 {
		t.Errorf("worker-*: %+v", files)
	}
	if _, err := List(dir, "["); err == nil {
		t.Error("a malformed pattern was taken")
	}
	cases := []struct {
		name      string
		lines     int
		max       int64
		want      string
		truncated bool
	}{
		{"raylet.out", 0, 0, "one\ntwo\nthree\n", false},
		{"raylet.out", 2, 0, "two\nthree\n", true},
		{"raylet.out", 3, 0, "one\ntwo\nthree\n", false},
		{"raylet.out", 10, 0, "one\ntwo\nthree\n", false},
		{"raylet.out", 0, 8, "three\n", true}, // (the cut line left out)
		{"ray.INFO", 1, 0, "three\n", true},
		{"worker-1.err", 1, 0, "oops", false},
	}
	for _, c := range cases {
		data, truncated, err := Tail(dir, c.name, c.lines, c.max)
		if err != nil || string(data) != c.want || truncated != c.truncated {
			t.Errorf("Tail(%s, %d, %d) = %q %v %v, want %q %v", c.name, c.lines, c.max, data, truncated, err, c.want, c.truncated)
		}
	}
	for _, bad := range []string{"../secret", "escape.log", "sub", ".hidden", "", "nope.log"} {
		if _, _, err := Tail(dir, bad, 0, 0); err == nil {
			t.Errorf("Tail(%q) read something", bad)
		}
	}
	if _, _, err := Tail(dir, "nope.log", 0, 0); !errors.Is(err, ErrNotFound) {
		t.Errorf("a missing file: %v", err)
	}
}
