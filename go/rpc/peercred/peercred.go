// Package peercred listens on unix sockets that only the user running this process may use: the
// socket file is mode 0600 whatever the umask, and a connection from a process of another user
// (the kernel says who with SO_PEERCRED) is closed and logged before anyone sees it.
package peercred

import (
	"fmt"
	"net"
	"os"
	"strings"
	"syscall"

	"github.com/golang/glog"
)

// listener is a unix socket listener whose Accept hands out connections of its own user only.
type listener struct {
	*net.UnixListener
	path string
	uid  uint32
}

// Listen listens on the unix socket path, which it creates with mode 0600 (a path starting with
// "@" is a Linux abstract socket: no file, so the uid check below is its only guard). Its Accept
// returns only connections from processes whose effective uid is this process's; others are
// closed and logged, and Accept waits for the next connection instead of failing (so gRPC keeps
// serving).
func Listen(path string) (net.Listener, error) {
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		return nil, err
	}
	if strings.HasPrefix(path, "@") {
		return &listener{UnixListener: l, path: path, uid: uint32(os.Geteuid())}, nil
	}
	// bind(2) made the file with the umask's mode: tighten it at once. Until then (a moment) the
	// directory guards it, and Accept refuses other users in any case.
	if err := os.Chmod(path, 0o600); err != nil {
		l.Close()
		return nil, fmt.Errorf("making the socket %s private: %w", path, err)
	}
	return &listener{UnixListener: l, path: path, uid: uint32(os.Geteuid())}, nil
}

// Accept waits for the next connection of a process of this user.
func (l *listener) Accept() (net.Conn, error) {
	for {
		c, err := l.UnixListener.AcceptUnix()
		if err != nil {
			return nil, err
		}
		cred, err := peerCred(c)
		if err != nil {
			glog.Warningf("refused a connection on %s: cannot tell whose it is: %v", l.path, err)
			c.Close()
			continue
		}
		if cred.Uid != l.uid {
			glog.Warningf("refused a connection on %s from process %d of uid %d (gid %d): only uid %d may connect", l.path, cred.Pid, cred.Uid, cred.Gid, l.uid)
			c.Close()
			continue
		}
		return c, nil
	}
}

// peerCred is the credentials the peer of c had when it connected.
func peerCred(c *net.UnixConn) (*syscall.Ucred, error) {
	raw, err := c.SyscallConn()
	if err != nil {
		return nil, fmt.Errorf("raw connection: %w", err)
	}
	var cred *syscall.Ucred
	var credErr error
	if err := raw.Control(func(fd uintptr) {
		cred, credErr = syscall.GetsockoptUcred(int(fd), syscall.SOL_SOCKET, syscall.SO_PEERCRED)
	}); err != nil {
		return nil, fmt.Errorf("raw connection: %w", err)
	}
	if credErr != nil {
		return nil, fmt.Errorf("SO_PEERCRED: %w", credErr)
	}
	return cred, nil
}
