package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"goray/cluster"
	"goray/jobclient"
	"goray/jobs"
	pb "goray/rpc/proto"
)

// jobPoll is how often `ray job` asks for a job's state and log while it follows one.
const jobPoll = 200 * time.Millisecond

func newJob() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "job",
		Short: "Submit, follow and manage jobs on a cluster (Ray's job CLI)",
		Long: "Submit, follow and manage jobs on a cluster, through its job API (the head's dashboard port).\n\n" +
			"The server is --address (http://HOST:PORT, or a cluster's HOST:PORT), else RAY_API_SERVER_ADDRESS,\n" +
			"else RAY_ADDRESS, else the cluster last started on this machine. The cluster's token is presented\n" +
			"(RAY_AUTH_TOKEN, RAY_AUTH_TOKEN_PATH or ~/.ray/auth_token).",
	}
	cmd.AddCommand(newJobSubmit(), newJobStatus(), newJobLogs(), newJobList(), newJobStop(), newJobDelete())
	return cmd
}

// jobClient is the client of the job server --address names.
func jobClient(address string) (*jobclient.Client, error) {
	token, err := cluster.Token()
	if err != nil {
		return nil, err
	}
	base, err := jobclient.ResolveAddress(address, func(addr string) (string, error) {
		return dashboardOf(addr)
	})
	if err != nil {
		return nil, err
	}
	return jobclient.New(base, token), nil
}

// dashboardOf asks the cluster whose control store is at addr where its dashboard is.
func dashboardOf(addr string) (string, error) {
	c, err := dialCluster(addr)
	if err != nil {
		return "", err
	}
	defer c.conn.Close()
	return c.dashboard()
}

// errNoJobAPI is the error of a cluster whose head serves no dashboard.
var errNoJobAPI = errors.New("serves no job API")

// dashboard asks the cluster's control store where its dashboard is (host:port).
func (c *clusterConn) dashboard() (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	rep, err := pb.NewControlStoreClient(c.conn).KVGet(ctx, &pb.KVGetRequest{Namespace: jobclient.KVNamespace, Key: jobclient.KVKey})
	if err != nil {
		return "", cluster.Explain(err, c.addr)
	}
	if !rep.Found {
		return "", fmt.Errorf("the cluster at %s %w (its head was started with --include-dashboard=false?)", c.addr, errNoJobAPI)
	}
	return string(rep.Value), nil
}

func addAddressFlag(cmd *cobra.Command, address *string) {
	cmd.Flags().StringVar(address, "address", "", "the job server (http://HOST:PORT) or the cluster (HOST:PORT); default RAY_API_SERVER_ADDRESS, RAY_ADDRESS, then this machine's cluster")
}

// safeWord is a word the shell takes as it is.
var safeWord = regexp.MustCompile(`^[A-Za-z0-9_@%+=:,./-]+$`)

// entrypointOf is the shell command of `ray job submit -- ARGS...`: one argument as it is (a
// command line of its own), several each quoted where the shell would split or expand it.
func entrypointOf(args []string) string {
	if len(args) == 1 {
		return args[0]
	}
	words := make([]string, len(args))
	for i, a := range args {
		if safeWord.MatchString(a) {
			words[i] = a
		} else {
			words[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
	}
	return strings.Join(words, " ")
}

func newJobSubmit() *cobra.Command {
	var address, submissionID, workingDir, runtimeEnvJSON, metadataJSON, resourcesJSON string
	var noWait bool
	var cpus, gpus, memory float64
	cmd := &cobra.Command{
		Use:   "submit [flags] -- ENTRYPOINT...",
		Short: "Submit a job: a shell command the head runs with RAY_ADDRESS set to the cluster",
		Long: "Submit a job: a shell command the head runs, with RAY_ADDRESS set to the cluster so that a C++\n" +
			"driver it starts joins it. --working-dir uploads a local directory, in which the command runs\n" +
			"(and which the job's workers get). Unless --no-wait, the job's log follows until it ends, and\n" +
			"the exit code says how it ended (0: SUCCEEDED).\n\n" +
			"  ray job submit --working-dir . -- bash run.sh",
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			req := jobs.Request{Entrypoint: entrypointOf(args), SubmissionID: submissionID,
				EntrypointNumCPUs: cpus, EntrypointNumGPUs: gpus, EntrypointMemory: memory}
			for _, j := range []struct {
				flag, text string
				into       any
			}{{"--runtime-env-json", runtimeEnvJSON, &req.RuntimeEnv}, {"--metadata-json", metadataJSON, &req.Metadata}, {"--entrypoint-resources", resourcesJSON, &req.EntrypointResources}} {
				if j.text != "" {
					if err := json.Unmarshal([]byte(j.text), j.into); err != nil {
						return fmt.Errorf("%s: %v", j.flag, err)
					}
				}
			}
			c, err := jobClient(address)
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "Job submission server address: %s\n", c.Base())
			if workingDir != "" {
				abs, err := filepath.Abs(workingDir)
				if err != nil {
					return err
				}
				uri, err := c.UploadWorkingDir(ctx, abs)
				if err != nil {
					return err
				}
				if req.RuntimeEnv == nil {
					req.RuntimeEnv = map[string]any{}
				}
				req.RuntimeEnv["working_dir"] = uri
				fmt.Fprintf(out, "Uploaded working_dir %s as %s\n", abs, uri)
			}
			id, err := c.Submit(ctx, req)
			if err != nil {
				return err
			}
			fmt.Fprintf(out, "\n-------------------------------------------------------\n")
			fmt.Fprintf(out, "Job '%s' submitted successfully\n", id)
			fmt.Fprintf(out, "-------------------------------------------------------\n\n")
			fmt.Fprintf(out, "Next steps\n  Query the logs of the job:\n    ray job logs %s\n", id)
			fmt.Fprintf(out, "  Query the status of the job:\n    ray job status %s\n", id)
			fmt.Fprintf(out, "  Request the job to be stopped:\n    ray job stop %s\n\n", id)
			if noWait {
				return nil
			}
			fmt.Fprintf(out, "Tailing logs until the job exits (disable with --no-wait):\n")
			info, err := c.Follow(ctx, id, out, jobPoll)
			if err != nil {
				if errors.Is(err, context.Canceled) {
					return fmt.Errorf("stopped following job %s (it goes on: `ray job stop %s` stops it)", id, id)
				}
				return err
			}
			return jobEnded(out, info)
		},
	}
	fl := cmd.Flags()
	addAddressFlag(cmd, &address)
	fl.StringVar(&submissionID, "submission-id", "", "the job's submission id (default: a new raysubmit_...)")
	fl.StringVar(&workingDir, "working-dir", "", "a local directory to upload: the job runs in it")
	fl.StringVar(&runtimeEnvJSON, "runtime-env-json", "", "the job's runtime_env as JSON (env_vars, working_dir)")
	fl.StringVar(&metadataJSON, "metadata-json", "", "the job's metadata as a JSON object of strings")
	fl.Float64Var(&cpus, "entrypoint-num-cpus", 0, "CPUs for the entrypoint command")
	fl.Float64Var(&gpus, "entrypoint-num-gpus", 0, "GPUs for the entrypoint command")
	fl.Float64Var(&memory, "entrypoint-memory", 0, "memory (bytes) for the entrypoint command")
	fl.StringVar(&resourcesJSON, "entrypoint-resources", "", "custom resources for the entrypoint command, as JSON")
	fl.BoolVar(&noWait, "no-wait", false, "do not follow the job's log: return once it is submitted")
	return cmd
}

// jobEnded prints how a job ended, as Ray's CLI does, and is an error unless it succeeded.
func jobEnded(out io.Writer, info jobs.Info) error {
	word := map[jobs.Status]string{jobs.Succeeded: "succeeded", jobs.Failed: "failed", jobs.Stopped: "was stopped"}[info.Status]
	fmt.Fprintf(out, "\n------------------------------------------\nJob '%s' %s\n------------------------------------------\n", info.SubmissionID, word)
	if info.Status == jobs.Succeeded {
		return nil
	}
	if info.Status == jobs.Failed && info.DriverExitCode != nil {
		return fmt.Errorf("job %s failed: its entrypoint exited with code %d", info.SubmissionID, *info.DriverExitCode)
	}
	return fmt.Errorf("job %s %s: %s", info.SubmissionID, word, strings.TrimSuffix(firstLine(info.Message), ":"))
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

func newJobStatus() *cobra.Command {
	var address string
	cmd := &cobra.Command{
		Use:   "status SUBMISSION_ID",
		Short: "Print a job's state",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := jobClient(address)
			if err != nil {
				return err
			}
			info, err := c.Get(context.Background(), args[0])
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "Status for job '%s': %s\n", info.SubmissionID, info.Status)
			fmt.Fprintf(out, "Status message: %s\n", info.Message)
			return nil
		},
	}
	addAddressFlag(cmd, &address)
	return cmd
}

func newJobLogs() *cobra.Command {
	var address string
	var follow bool
	cmd := &cobra.Command{
		Use:   "logs SUBMISSION_ID",
		Short: "Print a job's log (--follow: until it ends)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := jobClient(address)
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			if follow {
				_, err := c.Follow(ctx, args[0], cmd.OutOrStdout(), jobPoll)
				if errors.Is(err, context.Canceled) {
					return nil
				}
				return err
			}
			var offset int64
			for {
				text, next, err := c.Logs(ctx, args[0], offset)
				if err != nil {
					return err
				}
				fmt.Fprint(cmd.OutOrStdout(), text)
				if len(text) < jobs.MaxLogRead {
					return nil
				}
				offset = next
			}
		},
	}
	addAddressFlag(cmd, &address)
	cmd.Flags().BoolVarP(&follow, "follow", "f", false, "follow the log until the job ends")
	return cmd
}

func newJobList() *cobra.Command {
	var address, format string
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the cluster's jobs",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if format != "table" && format != "json" {
				return fmt.Errorf("--format is table or json, not %q", format)
			}
			c, err := jobClient(address)
			if err != nil {
				return err
			}
			list, err := c.List(context.Background())
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if format == "json" {
				data, _ := json.MarshalIndent(list, "", "  ")
				fmt.Fprintln(out, string(data))
				return nil
			}
			tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "SUBMISSION_ID\tSTATUS\tSTART_TIME\tEND_TIME\tTYPE\tJOB_ID\tENTRYPOINT")
			for _, j := range list {
				end, sub, id := "-", "-", "-"
				if j.EndTime != nil {
					end = time.UnixMilli(*j.EndTime).Format(time.RFC3339)
				}
				if j.SubmissionID != "" {
					sub = j.SubmissionID
				}
				if j.JobID != nil {
					id = *j.JobID
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", sub, j.Status, time.UnixMilli(j.StartTime).Format(time.RFC3339), end, j.Type, id, j.Entrypoint)
			}
			return tw.Flush()
		},
	}
	addAddressFlag(cmd, &address)
	cmd.Flags().StringVar(&format, "format", "table", "table or json")
	return cmd
}

func newJobStop() *cobra.Command {
	var address string
	var noWait bool
	cmd := &cobra.Command{
		Use:   "stop SUBMISSION_ID",
		Short: "Stop a job (SIGTERM to its command, SIGKILL after a grace period)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := jobClient(address)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "Attempting to stop job '%s'\n", args[0])
			stopped, err := c.Stop(context.Background(), args[0])
			if err != nil {
				return err
			}
			if !stopped {
				info, err := c.Get(context.Background(), args[0])
				if err != nil {
					return err
				}
				fmt.Fprintf(out, "Job '%s' was over already: %s\n", args[0], info.Status)
				return nil
			}
			if noWait {
				return nil
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			info, err := c.Wait(ctx, args[0], jobPoll)
			if err != nil {
				return err
			}
			fmt.Fprintf(out, "Job '%s' is %s\n", args[0], info.Status)
			return nil
		},
	}
	addAddressFlag(cmd, &address)
	cmd.Flags().BoolVar(&noWait, "no-wait", false, "return once the stop is asked, not when the job has ended")
	return cmd
}

func newJobDelete() *cobra.Command {
	var address string
	cmd := &cobra.Command{
		Use:   "delete SUBMISSION_ID",
		Short: "Forget a job that is over (its record and its log)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := jobClient(address)
			if err != nil {
				return err
			}
			if err := c.Delete(context.Background(), args[0]); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Job '%s' deleted successfully\n", args[0])
			return nil
		},
	}
	addAddressFlag(cmd, &address)
	return cmd
}
