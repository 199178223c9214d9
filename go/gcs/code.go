package gcs

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/golang/glog"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "goray/rpc/proto"
)

// The cluster's code store: the files of jobs' code (drivers' libraries and executables), kept by
// the head in a directory, each named by its SHA-256. Drivers upload what the store lacks; nodes
// download what they need to run a job whose driver is elsewhere.

// MaxCodeFileBytes bounds one file of the code store.
const MaxCodeFileBytes = 4 << 30

// codeChunkSize is the size of the pieces downloads come in.
const codeChunkSize = 1 << 20

// SetCodeDir makes dir the code store (created 0700). Without it, the code RPCs fail.
func (s *Server) SetCodeDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("code store: %w", err)
	}
	s.mu.Lock()
	s.codeDir = dir
	s.mu.Unlock()
	return nil
}

// ValidSHA256 tells whether s is a SHA-256 in lower-case hex.
func ValidSHA256(s string) bool {
	if len(s) != 64 {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil && s == hexLower(s)
}

func hexLower(s string) string {
	b, _ := hex.DecodeString(s)
	return hex.EncodeToString(b)
}

// codePath is where the store keeps the file with this hash ("" without a store).
func (s *Server) codePath(sum string) (string, error) {
	if !ValidSHA256(sum) {
		return "", status.Errorf(codes.InvalidArgument, "code: %q is not a SHA-256 in hex", sum)
	}
	s.mu.Lock()
	dir := s.codeDir
	s.mu.Unlock()
	if dir == "" {
		return "", status.Error(codes.FailedPrecondition, "this control store keeps no code")
	}
	return filepath.Join(dir, sum), nil
}

// HasCode tells whether the store has the file with this hash.
func (s *Server) HasCode(_ context.Context, req *pb.HasCodeRequest) (*pb.HasCodeReply, error) {
	path, err := s.codePath(req.Sha256)
	if err != nil {
		return nil, err
	}
	_, err = os.Stat(path)
	return &pb.HasCodeReply{Found: err == nil}, nil
}

// UploadCode stores a file, checking its size and hash; a file the store has already is kept.
func (s *Server) UploadCode(stream pb.ControlStore_UploadCodeServer) error {
	first, err := stream.Recv()
	if err != nil {
		return err
	}
	path, err := s.codePath(first.Sha256)
	if err != nil {
		return err
	}
	if first.Size < 0 || first.Size > MaxCodeFileBytes {
		return status.Errorf(codes.InvalidArgument, "code %s: size %d is not between 0 and %d bytes", first.Sha256, first.Size, MaxCodeFileBytes)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), first.Sha256+".*.tmp")
	if err != nil {
		return status.Errorf(codes.Internal, "code store: %v", err)
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	h := sha256.New()
	var n int64
	for chunk := first; ; {
		n += int64(len(chunk.Data))
		if n > first.Size {
			return status.Errorf(codes.InvalidArgument, "code %s: more than the %d bytes announced", first.Sha256, first.Size)
		}
		h.Write(chunk.Data)
		if _, err := tmp.Write(chunk.Data); err != nil {
			return status.Errorf(codes.Internal, "code store: %v", err)
		}
		if chunk, err = stream.Recv(); err == io.EOF {
			break
		} else if err != nil {
			return err
		}
	}
	if n != first.Size || hex.EncodeToString(h.Sum(nil)) != first.Sha256 {
		return status.Errorf(codes.InvalidArgument, "code %s: the %d bytes received do not match the size %d and hash announced", first.Sha256, n, first.Size)
	}
	if err := tmp.Close(); err != nil {
		return status.Errorf(codes.Internal, "code store: %v", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return status.Errorf(codes.Internal, "code store: %v", err)
	}
	glog.Infof("code store: stored %s (%d bytes)", first.Sha256, n)
	return stream.SendAndClose(&pb.UploadCodeReply{})
}

// DownloadCode sends a stored file in chunks (the first names its hash and size).
func (s *Server) DownloadCode(req *pb.DownloadCodeRequest, stream pb.ControlStore_DownloadCodeServer) error {
	path, err := s.codePath(req.Sha256)
	if err != nil {
		return err
	}
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return status.Errorf(codes.NotFound, "the cluster's code store has no file %s", req.Sha256)
	}
	if err != nil {
		return status.Errorf(codes.Internal, "code store: %v", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return status.Errorf(codes.Internal, "code store: %v", err)
	}
	buf := make([]byte, codeChunkSize)
	first := true
	for {
		n, err := f.Read(buf)
		if n > 0 || first {
			chunk := &pb.CodeChunk{Data: buf[:n]}
			if first {
				chunk.Sha256, chunk.Size = req.Sha256, st.Size()
				first = false
			}
			if err := stream.Send(chunk); err != nil {
				return err
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return status.Errorf(codes.Internal, "code store: %v", err)
		}
	}
}
