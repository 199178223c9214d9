package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"goray/cluster"
	"goray/node"
	"goray/ownerlock"
	"goray/raylet"
	"goray/session"
)

// proc is a process of this user as `ray stop` sees it.
type proc struct {
	pid  int
	args []string
	env  map[string]string
}

// nodeRoot tells whether p is a goray node (a `ray start` daemon, or `ray start --block` in the
// foreground) and the session root it runs under.
func nodeRoot(p proc) (string, bool) {
	if root, ok := p.env[envDaemonRoot]; ok {
		return root, true
	}
	if len(p.args) < 2 || filepath.Base(p.args[0]) != "ray" || p.args[1] != "start" {
		return "", false
	}
	tempDir := ""
	for i, a := range p.args {
		if v, ok := cutFlag(a, "--temp-dir"); ok {
			tempDir = v
		} else if a == "--temp-dir" && i+1 < len(p.args) {
			tempDir = p.args[i+1]
		}
	}
	if tempDir == "" {
		tempDir = p.env["RAY_TMPDIR"]
	}
	if tempDir == "" {
		tempDir = session.DefaultRoot
	}
	return tempDir, true
}

func cutFlag(arg, name string) (string, bool) {
	if strings.HasPrefix(arg, name+"=") {
		return arg[len(name)+1:], true
	}
	return "", false
}

// nodesToStop picks the node processes `ray stop` ends: all of this user's, or when only (a
// session root, from RAY_TMPDIR) is set, those under it.
func nodesToStop(procs []proc, only string) []proc {
	var out []proc
	for _, p := range procs {
		root, ok := nodeRoot(p)
		if !ok {
			continue
		}
		if only != "" && filepath.Clean(root) != filepath.Clean(only) {
			continue
		}
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].pid < out[j].pid })
	return out
}

// orphanWorkers picks worker processes whose node is gone (its session's lock is free): a node
// killed with SIGKILL leaves them to end by themselves; `ray stop` ends them at once.
func orphanWorkers(procs []proc, nodeAlive func(sessionDir string) bool) []proc {
	var out []proc
	for _, p := range procs {
		dir := p.env[raylet.EnvSessionDir]
		if p.env[raylet.EnvWorker] != "1" || dir == "" {
			continue
		}
		if !nodeAlive(dir) {
			out = append(out, p)
		}
	}
	return out
}

// sessionAlive tells whether a node holds the session's lock.
func sessionAlive(dir string) bool {
	release, held, err := ownerlock.Acquire(filepath.Join(dir, session.LockFile))
	if err != nil {
		return !errors.Is(err, os.ErrNotExist)
	}
	if !held {
		release()
	}
	return held
}

// myProcs lists this user's processes with their arguments and environment.
func myProcs() []proc {
	entries, _ := os.ReadDir("/proc")
	self := os.Getpid()
	var out []proc
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == self {
			continue
		}
		st, err := os.Stat(filepath.Join("/proc", e.Name()))
		if err != nil || !session.Mine(st) {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || len(cmdline) == 0 {
			continue
		}
		environ, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "environ"))
		p := proc{pid: pid, args: splitNul(cmdline), env: map[string]string{}}
		for _, kv := range splitNul(environ) {
			if k, v, ok := strings.Cut(kv, "="); ok {
				p.env[k] = v
			}
		}
		out = append(out, p)
	}
	return out
}

func splitNul(b []byte) []string {
	var out []string
	for _, f := range bytes.Split(bytes.TrimRight(b, "\x00"), []byte{0}) {
		out = append(out, string(f))
	}
	return out
}

// alive tells whether pid still runs (a zombie counts as gone).
func alive(pid int) bool {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	if i := bytes.LastIndexByte(raw, ')'); i >= 0 && i+2 < len(raw) {
		return raw[i+2] != 'Z'
	}
	return true
}

func newStop() *cobra.Command {
	var force bool
	var grace int
	cmd := &cobra.Command{
		Use:   "stop",
		Short: "Stop the goray nodes of this machine (with their workers and actors)",
		Long: "Stop the goray nodes this user runs on this machine: SIGTERM, then SIGKILL after --grace-period\n" +
			"seconds (--force: SIGKILL at once). Their worker processes and actors, detached ones included,\n" +
			"end with them. With RAY_TMPDIR set, only the nodes whose sessions are under it stop.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if grace < 0 {
				return fmt.Errorf("--grace-period %d: want a number of seconds, at least 0", grace)
			}
			nodes := nodesToStop(myProcs(), os.Getenv("RAY_TMPDIR"))
			sig := syscall.SIGTERM
			if force {
				sig = syscall.SIGKILL
			}
			for _, p := range nodes {
				_ = syscall.Kill(p.pid, sig)
			}
			deadline := time.Now().Add(time.Duration(grace) * time.Second)
			killed := 0
			for _, p := range nodes {
				for alive(p.pid) && time.Now().Before(deadline) {
					time.Sleep(20 * time.Millisecond)
				}
				if alive(p.pid) {
					_ = syscall.Kill(p.pid, syscall.SIGKILL)
					killed++
				}
			}
			for _, p := range nodes {
				for i := 0; i < 250 && alive(p.pid); i++ {
					time.Sleep(20 * time.Millisecond)
				}
			}
			orphans := orphanWorkers(myProcs(), sessionAlive)
			for _, p := range orphans {
				_ = syscall.Kill(p.pid, syscall.SIGKILL)
			}
			// A node killed with SIGKILL (now, or before) could not remove its object store.
			node.RemoveStaleArenas()
			out := cmd.OutOrStdout()
			switch {
			case len(nodes) == 0:
				fmt.Fprintln(out, "Did not find any active Ray processes.")
			default:
				fmt.Fprintf(out, "Stopped all %d Ray processes.\n", len(nodes)+len(orphans))
				if killed > 0 {
					fmt.Fprintf(out, "%d did not stop within %d s of SIGTERM and were killed.\n", killed, grace)
				}
			}
			return nil
		},
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "kill the nodes with SIGKILL at once")
	cmd.Flags().IntVarP(&grace, "grace-period", "g", 16, "seconds to wait after SIGTERM before SIGKILL")
	return cmd
}

func newGetAuthToken() *cobra.Command {
	var generate bool
	cmd := &cobra.Command{
		Use:   "get-auth-token",
		Short: "Print the cluster token (--generate: make one when there is none)",
		Long: "Print the token that closes the cluster (RAY_AUTH_TOKEN, else the file of RAY_AUTH_TOKEN_PATH,\n" +
			"else ~/.ray/auth_token). Give it to processes on other machines as RAY_AUTH_TOKEN.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			var token string
			var err error
			if generate {
				var path string
				var created bool
				token, path, created, err = cluster.HeadToken()
				if err == nil && created {
					fmt.Fprintf(cmd.ErrOrStderr(), "Generated a new token in %s\n", path)
				}
			} else {
				token, err = cluster.Token()
			}
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), token)
			return nil
		},
	}
	cmd.Flags().BoolVar(&generate, "generate", false, "make a token (0600 file) when there is none")
	return cmd
}
