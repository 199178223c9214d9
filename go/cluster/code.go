package cluster

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	pb "goray/rpc/proto"
	"goray/runtimeenv"
)

// A job's code reaches every node through the cluster: the driver uploads its files (the
// libraries default_worker loads from its code search path, and its own executable, which workers
// run when no library has its functions) to the control store's code store by content; a node
// other than the driver's fetches them into its session and runs the job from its copies. Ray
// instead requires the same files at the same paths on every node.

// uploadChunk is the size of the pieces an upload sends.
const uploadChunk = 1 << 20

// CodeFiles lists a job's code, as default_worker finds it: for each code search path entry, a
// directory stands for the *.so files directly in it (in name order), a file for itself; then
// the driver executable. Each file is listed once.
func CodeFiles(searchPath []string, driverExe string) ([]string, error) {
	var out []string
	seen := map[string]bool{}
	add := func(p string) {
		if !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	for _, entry := range searchPath {
		st, err := os.Stat(entry)
		if err != nil {
			return nil, fmt.Errorf("code search path entry %s: %w", entry, err)
		}
		if !st.IsDir() {
			add(entry)
			continue
		}
		names, err := os.ReadDir(entry)
		if err != nil {
			return nil, fmt.Errorf("code search path entry %s: %w", entry, err)
		}
		var libs []string
		for _, n := range names {
			if strings.HasSuffix(n.Name(), ".so") && !n.IsDir() {
				libs = append(libs, filepath.Join(entry, n.Name()))
			}
		}
		sort.Strings(libs)
		for _, l := range libs {
			add(l)
		}
	}
	if driverExe != "" {
		add(driverExe)
	}
	return out, nil
}

// hashFile is a file's SHA-256 (hex) and size.
func hashFile(path string) (string, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return "", 0, err
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}

// UploadCode stores the files in the cluster's code store (those it lacks) and returns them as a
// job's code.
func UploadCode(ctx context.Context, store pb.ControlStoreClient, paths []string) ([]*pb.CodeFile, error) {
	var out []*pb.CodeFile
	for _, p := range paths {
		sum, size, err := hashFile(p)
		if err != nil {
			return nil, fmt.Errorf("the job's code: %w", err)
		}
		out = append(out, &pb.CodeFile{Path: p, Sha256: sum, Size: size})
		has, err := store.HasCode(ctx, &pb.HasCodeRequest{Sha256: sum})
		if err != nil {
			return nil, fmt.Errorf("the cluster's code store: %w", err)
		}
		if has.Found {
			continue
		}
		if err := uploadFile(ctx, store, p, sum, size); err != nil {
			return nil, fmt.Errorf("uploading %s to the cluster's code store: %w", p, err)
		}
	}
	return out, nil
}

func uploadFile(ctx context.Context, store pb.ControlStoreClient, path, sum string, size int64) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	stream, err := store.UploadCode(ctx)
	if err != nil {
		return err
	}
	buf := make([]byte, uploadChunk)
	first := true
	for {
		n, rerr := io.ReadFull(f, buf)
		if n > 0 || first {
			chunk := &pb.CodeChunk{Data: buf[:n]}
			if first {
				chunk.Sha256, chunk.Size = sum, size
				first = false
			}
			if err := stream.Send(chunk); err != nil {
				_, err = stream.CloseAndRecv()
				return err
			}
		}
		if rerr == io.EOF || rerr == io.ErrUnexpectedEOF {
			break
		}
		if rerr != nil {
			return rerr
		}
	}
	_, err = stream.CloseAndRecv()
	return err
}

// FetchCode makes dst a copy of the code store's file sum (checked against its hash), unless dst
// exists already (it is then trusted: it was checked when it was fetched).
func FetchCode(ctx context.Context, store pb.ControlStoreClient, sum, dst string) error {
	if _, err := os.Stat(dst); err == nil {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
		return err
	}
	stream, err := store.DownloadCode(ctx, &pb.DownloadCodeRequest{Sha256: sum})
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(dst), filepath.Base(dst)+".*.tmp")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	h := sha256.New()
	for {
		chunk, err := stream.Recv()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("downloading code %s: %w", sum, err)
		}
		h.Write(chunk.Data)
		if _, err := tmp.Write(chunk.Data); err != nil {
			return err
		}
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != sum {
		return fmt.Errorf("downloading code %s: got a file whose hash is %s", sum, got)
	}
	if err := tmp.Chmod(0o700); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), dst)
}

// ShipWorkingDir returns the runtime environment envText (canonical JSON) with its working_dir,
// when that is a local directory, put in the cluster's code store as a package and replaced by
// the package's URI, as a driver ships its job's working_dir. A relative directory is taken from
// the process's working directory.
func ShipWorkingDir(ctx context.Context, store pb.ControlStoreClient, envText string) (string, error) {
	env, err := runtimeenv.Parse(envText)
	if err != nil {
		return "", err
	}
	if env.WorkingDir == "" {
		return envText, nil
	}
	if _, shipped := runtimeenv.PackageSum(env.WorkingDir); shipped {
		return envText, nil
	}
	dir, err := filepath.Abs(env.WorkingDir)
	if err != nil {
		return "", fmt.Errorf("runtime_env working_dir %s: %w", env.WorkingDir, err)
	}
	pkg, sum, err := runtimeenv.Pack(dir)
	if err != nil {
		return "", err
	}
	defer os.Remove(pkg)
	if _, err := UploadCode(ctx, store, []string{pkg}); err != nil {
		return "", fmt.Errorf("runtime_env working_dir %s: %w", dir, err)
	}
	env.WorkingDir = runtimeenv.PackageURI(sum)
	return env.String(), nil
}
