// Package nodelogs reads a node's log files for `ray logs`: the files of its session's logs
// directory (no subdirectories, nothing outside it), listed by a shell pattern, and the last
// lines of one.
package nodelogs

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// MaxBytes bounds what one read returns.
const MaxBytes = 16 << 20

// ErrNotFound is wrapped by the error of a read of a file the directory does not have.
var ErrNotFound = errors.New("no such log file")

// File is a log file.
type File struct {
	Name       string
	Size       int64
	ModifiedMs int64
}

// List returns the files of dir whose names match glob (a shell pattern; "": all), by name.
func List(dir, glob string) ([]File, error) {
	if glob != "" {
		if _, err := filepath.Match(glob, ""); err != nil {
			return nil, fmt.Errorf("log file pattern %q: %w", glob, err)
		}
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("the node's logs: %w", err)
	}
	var out []File
	for _, e := range entries {
		if glob != "" {
			if ok, _ := filepath.Match(glob, e.Name()); !ok {
				continue
			}
		}
		st, err := inside(dir, e.Name())
		if err != nil {
			continue
		}
		out = append(out, File{Name: e.Name(), Size: st.Size(), ModifiedMs: st.ModTime().UnixMilli()})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// inside checks that name is a regular file of dir (a link to one of dir's files counts, as
// glog's NAME.INFO links) and returns what it is.
func inside(dir, name string) (os.FileInfo, error) {
	if name == "" || name != filepath.Base(name) || strings.HasPrefix(name, ".") {
		return nil, fmt.Errorf("%q is not the name of a log file", name)
	}
	path := filepath.Join(dir, name)
	real, err := filepath.EvalSymlinks(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, name)
	}
	realDir, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return nil, err
	}
	if filepath.Dir(real) != realDir {
		return nil, fmt.Errorf("%s leads out of the logs directory", name)
	}
	st, err := os.Stat(real)
	if err != nil || !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, name)
	}
	return st, nil
}

// Tail returns the last lines of dir's file name (lines <= 0: all of it), at most maxBytes
// (<= 0 or more than MaxBytes: MaxBytes); truncated says whether the start was left out.
func Tail(dir, name string, lines int, maxBytes int64) ([]byte, bool, error) {
	st, err := inside(dir, name)
	if err != nil {
		return nil, false, err
	}
	if maxBytes <= 0 || maxBytes > MaxBytes {
		maxBytes = MaxBytes
	}
	f, err := os.Open(filepath.Join(dir, name))
	if err != nil {
		return nil, false, err
	}
	defer f.Close()
	start := int64(0)
	if st.Size() > maxBytes {
		start = st.Size() - maxBytes
	}
	if _, err := f.Seek(start, io.SeekStart); err != nil {
		return nil, false, err
	}
	data, err := io.ReadAll(io.LimitReader(f, maxBytes))
	if err != nil {
		return nil, false, err
	}
	truncated := start > 0
	if start > 0 {
		// (the first line read may be cut: it starts after the first newline)
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			data = data[i+1:]
		}
	}
	if lines > 0 {
		body := bytes.TrimSuffix(data, []byte("\n"))
		cut := len(body)
		for n := 0; n < lines && cut >= 0; n++ {
			cut = bytes.LastIndexByte(body[:cut], '\n')
			if cut < 0 {
				break
			}
		}
		if cut >= 0 {
			data = data[cut+1:]
			truncated = true
		}
	}
	return data, truncated, nil
}
