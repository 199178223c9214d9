package runtimeenv

import (
	"archive/zip"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"
)

// A working_dir travels as a package: a zip archive of the directory's files, named by its
// SHA-256 (Ray names its packages gcs://_ray_pkg_<hash>.zip too). The driver packs the directory
// and puts the package in the cluster's code store; a node that starts a worker of the
// environment fetches it and unpacks it once, into its session.

// MaxPackageBytes bounds a working_dir: the bytes of its files together.
const MaxPackageBytes = 512 << 20

// maxPackageFiles bounds the files and directories of one working_dir.
const maxPackageFiles = 100000

const (
	uriPrefix = "gcs://_ray_pkg_"
	uriSuffix = ".zip"
)

// ErrNotDirectory is returned by Pack for a path that is not a directory.
var ErrNotDirectory = errors.New("not a directory")

// PackageURI is the URI of the package whose SHA-256 (lower-case hex) is sum.
func PackageURI(sum string) string { return uriPrefix + sum + uriSuffix }

// PackageSum is the SHA-256 a package URI names, and whether uri is one.
func PackageSum(uri string) (string, bool) {
	if !strings.HasPrefix(uri, uriPrefix) || !strings.HasSuffix(uri, uriSuffix) {
		return "", false
	}
	sum := uri[len(uriPrefix) : len(uri)-len(uriSuffix)]
	raw, err := hex.DecodeString(sum)
	if err != nil || len(raw) != sha256.Size || hex.EncodeToString(raw) != sum {
		return "", false
	}
	return sum, true
}

// packTime is the time every entry of a package carries, so equal directories give equal
// packages (and one upload).
var packTime = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

// Pack writes the package of directory dir to a new temporary file and returns the file's path
// (the caller removes it) and its SHA-256. Regular files keep their permission bits; symbolic
// links to files are followed (dir itself may be a link), a link to a directory inside dir is an
// error (its files would be left out otherwise) but for Bazel's links to its outputs at the top
// (bazel-bin, bazel-out, ...: left out, see bazelLink), and other kinds of file (sockets, devices) are
// left out.
func Pack(dir string) (string, string, error) {
	if real, err := filepath.EvalSymlinks(dir); err == nil {
		dir = real
	}
	st, err := os.Stat(dir)
	if err != nil {
		return "", "", fmt.Errorf("runtime_env working_dir: %w", err)
	}
	if !st.IsDir() {
		return "", "", fmt.Errorf("runtime_env working_dir %s: %w", dir, ErrNotDirectory)
	}
	out, err := os.CreateTemp("", "goray_pkg_*.zip")
	if err != nil {
		return "", "", fmt.Errorf("runtime_env working_dir: %w", err)
	}
	done := false
	defer func() {
		out.Close()
		if !done {
			os.Remove(out.Name())
		}
	}()
	h := sha256.New()
	zw := zip.NewWriter(io.MultiWriter(out, h))
	var total int64
	files := 0
	walkErr := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil || rel == "." {
			return err
		}
		if files++; files > maxPackageFiles {
			return fmt.Errorf("it holds more than %d files", maxPackageFiles)
		}
		info, err := os.Stat(p) // (follows links)
		if err != nil {
			return err
		}
		name := filepath.ToSlash(rel)
		switch {
		case d.IsDir():
			return addEntry(zw, name+"/", info.Mode(), nil)
		case info.IsDir() && bazelLink(rel):
			return nil
		case info.IsDir():
			return fmt.Errorf("%s is a symbolic link to a directory, which a working_dir cannot hold: put the files themselves there", rel)
		case !info.Mode().IsRegular():
			return nil
		}
		if total += info.Size(); total > MaxPackageBytes {
			return fmt.Errorf("its files hold more than %d MiB, the most a working_dir may", MaxPackageBytes>>20)
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		return addEntry(zw, name, info.Mode(), f)
	})
	if walkErr != nil {
		return "", "", fmt.Errorf("runtime_env working_dir %s: %w", dir, walkErr)
	}
	if err := zw.Close(); err != nil {
		return "", "", fmt.Errorf("runtime_env working_dir %s: %w", dir, err)
	}
	if err := out.Close(); err != nil {
		return "", "", fmt.Errorf("runtime_env working_dir %s: %w", dir, err)
	}
	done = true
	return out.Name(), hex.EncodeToString(h.Sum(nil)), nil
}

// bazelLink tells whether rel, a symbolic link to a directory, is one of the links Bazel makes
// at the top of a project to its outputs (bazel-bin, bazel-out, bazel-<project>, ...): a
// package leaves them out, as what the project's build makes again.
func bazelLink(rel string) bool {
	return !strings.ContainsRune(filepath.ToSlash(rel), '/') && strings.HasPrefix(rel, "bazel-")
}

// addEntry adds one file (data non-nil) or directory to a package.
func addEntry(zw *zip.Writer, name string, mode fs.FileMode, data io.Reader) error {
	hdr := &zip.FileHeader{Name: name, Method: zip.Deflate, Modified: packTime}
	if data == nil {
		hdr.Method = zip.Store
		hdr.SetMode(fs.ModeDir | mode.Perm())
	} else {
		hdr.SetMode(mode.Perm())
	}
	w, err := zw.CreateHeader(hdr)
	if err != nil || data == nil {
		return err
	}
	_, err = io.Copy(w, data)
	return err
}

// Unpack makes dst a directory holding the files of the package at zipPath, unless dst exists
// already (an earlier Unpack made it). It refuses entries that would land outside dst and stops
// at MaxPackageBytes of content.
func Unpack(zipPath, dst string) error {
	if _, err := os.Stat(dst); err == nil {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dst), filepath.Base(dst)+".*.tmp")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	zr, err := zip.OpenReader(zipPath)
	if err != nil {
		return fmt.Errorf("package %s: %w", filepath.Base(zipPath), err)
	}
	defer zr.Close()
	if len(zr.File) > maxPackageFiles {
		return fmt.Errorf("package %s holds %d files, more than %d", filepath.Base(zipPath), len(zr.File), maxPackageFiles)
	}
	budget := int64(MaxPackageBytes)
	for _, f := range zr.File {
		clean := path.Clean(f.Name)
		if path.IsAbs(f.Name) || clean == ".." || strings.HasPrefix(clean, "../") || strings.Contains(f.Name, "\\") {
			return fmt.Errorf("package %s names %q, outside its directory", filepath.Base(zipPath), f.Name)
		}
		target := filepath.Join(tmp, filepath.FromSlash(clean))
		mode := f.Mode()
		if mode.IsDir() {
			if err := os.MkdirAll(target, 0o700|mode.Perm()); err != nil {
				return err
			}
			continue
		}
		if !mode.IsRegular() {
			continue
		}
		if err := os.MkdirAll(filepath.Dir(target), 0o700); err != nil {
			return err
		}
		if budget, err = unpackFile(f, target, budget); err != nil {
			return fmt.Errorf("package %s: %s: %w", filepath.Base(zipPath), f.Name, err)
		}
	}
	return os.Rename(tmp, dst)
}

// unpackFile writes one file of a package, within budget bytes, and returns what is left of it.
func unpackFile(f *zip.File, target string, budget int64) (int64, error) {
	in, err := f.Open()
	if err != nil {
		return budget, err
	}
	defer in.Close()
	out, err := os.OpenFile(target, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600|f.Mode().Perm())
	if err != nil {
		return budget, err
	}
	n, err := io.Copy(out, io.LimitReader(in, budget+1))
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return budget, err
	}
	if n > budget {
		return budget, fmt.Errorf("the package unpacks to more than %d MiB", MaxPackageBytes>>20)
	}
	return budget - n, nil
}
