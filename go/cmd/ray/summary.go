package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"goray/state"
)

func newSummary() *cobra.Command {
	var address, format string
	cmd := &cobra.Command{
		Use:   "summary tasks|actors|objects",
		Short: "Count the cluster's tasks by function, its actors by class, or its objects by call site (Ray's state API)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if format != "table" && format != "json" {
				return fmt.Errorf("--format is table or json, not %q", format)
			}
			if args[0] != "tasks" && args[0] != "actors" && args[0] != "objects" {
				return fmt.Errorf("ray summary %s: goray summarizes tasks, actors or objects", args[0])
			}
			ctx, cancel := context.WithTimeout(context.Background(), stateTimeout)
			defer cancel()
			if args[0] == "objects" {
				return summarizeObjects(ctx, cmd, address, format)
			}
			reports, err := gatherReports(ctx, address, args[0], cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			type line struct {
				name, kind string
				counts     map[string]int
			}
			var lines []line
			var v any
			switch args[0] {
			case "tasks":
				sum := state.SummarizeTasks(state.Tasks(reports))
				for _, s := range sum {
					lines = append(lines, line{s.FuncOrClass, s.Type, s.StateCounts})
				}
				v = sum
			case "actors":
				sum := state.SummarizeActors(state.Actors(reports))
				for _, s := range sum {
					lines = append(lines, line{s.ClassName, "", s.StateCounts})
				}
				v = sum
			default:
				return fmt.Errorf("ray summary %s: goray summarizes tasks, actors or objects", args[0])
			}
			if format == "json" {
				data, _ := json.MarshalIndent(v, "", "  ")
				fmt.Fprintln(out, string(data))
				return nil
			}
			fmt.Fprintf(out, "\n======== %s Summary: %s ========\n", strings.ToUpper(args[0][:1])+strings.TrimSuffix(args[0][1:], "s"), time.Now().Format("2006-01-02 15:04:05.000000"))
			total := 0
			for _, l := range lines {
				for _, n := range l.counts {
					total += n
				}
			}
			fmt.Fprintf(out, "Stats:\n------------------------------------\ntotal_%s: %d\n\nTable (group by func_name / class_name):\n------------------------------------\n", args[0], total)
			tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			name := "FUNC_OR_CLASS_NAME\tSTATE_COUNTS\tTYPE"
			if args[0] == "actors" {
				name = "CLASS_NAME\tSTATE_COUNTS\t"
			}
			fmt.Fprintf(tw, "\t%s\n", name)
			for i, l := range lines {
				fmt.Fprintf(tw, "%d\t%s\t%s\t%s\n", i, l.name, countsText(l.counts), l.kind)
			}
			return tw.Flush()
		},
	}
	cmd.Flags().StringVar(&address, "address", "", "the cluster (HOST:PORT of its head); default RAY_ADDRESS, then this machine's cluster")
	cmd.Flags().StringVar(&format, "format", "table", "table or json")
	return cmd
}

// summarizeObjects prints `ray summary objects`: the cluster's objects by call site.
func summarizeObjects(ctx context.Context, cmd *cobra.Command, address, format string) error {
	objects, _, err := gatherObjects(ctx, address, cmd.ErrOrStderr())
	if err != nil {
		return err
	}
	sum := state.SummarizeObjects(objects)
	out := cmd.OutOrStdout()
	if format == "json" {
		data, _ := json.MarshalIndent(sum, "", "  ")
		fmt.Fprintln(out, string(data))
		return nil
	}
	total, size := 0, 0.0
	for _, s := range sum {
		total += s.TotalObjects
		size += s.TotalSizeMB
	}
	fmt.Fprintf(out, "\n======== Object Summary: %s ========\n", time.Now().Format("2006-01-02 15:04:05.000000"))
	fmt.Fprintf(out, "Stats:\n------------------------------------\ncallsite_enabled: False\ntotal_objects: %d\ntotal_size_mb: %.3f\n\n", total, size)
	fmt.Fprintf(out, "Table (group by callsite):\n------------------------------------\n")
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "\tCALLSITE\tTOTAL_OBJECTS\tTOTAL_SIZE_MB\tTOTAL_NUM_WORKERS\tTOTAL_NUM_NODES\tTASK_STATE_COUNTS\tREF_TYPE_COUNTS")
	for i, s := range sum {
		fmt.Fprintf(tw, "%d\t%s\t%d\t%.3f\t%d\t%d\t%s\t%s\n", i, s.CallSite, s.TotalObjects, s.TotalSizeMB, s.TotalNumWorkers, s.TotalNumNodes,
			countsText(s.TaskStateCounts), countsText(s.RefTypeCounts))
	}
	return tw.Flush()
}

func newMemory() *cobra.Command {
	var address string
	var o state.MemoryOptions
	cmd := &cobra.Command{
		Use:   "memory",
		Short: "Show the cluster's object references: which process holds which object, of what size, and why (Ray's `ray memory`)",
		Long: "Show every ObjectRef the cluster's drivers and workers hold, grouped by node address (or\n" +
			"call site), with its size, the state of the task that makes it and the reference type\n" +
			"(LOCAL_REFERENCE: an ObjectRef in user code; USED_BY_PENDING_TASK: an argument of a call in\n" +
			"flight; CAPTURED_IN_OBJECT: inside another object; PINNED_IN_MEMORY: read now), then the\n" +
			"object stores' use across the nodes.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.Check(); err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(context.Background(), stateTimeout)
			defer cancel()
			objects, reports, err := gatherObjects(ctx, address, cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			return state.PrintMemory(cmd.OutOrStdout(), objects, reports, o, time.Now())
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&address, "address", "", "the cluster (HOST:PORT of its head); default RAY_ADDRESS, then this machine's cluster")
	fl.StringVar(&o.GroupBy, "group-by", "NODE_ADDRESS", "NODE_ADDRESS or STACK_TRACE")
	fl.StringVar(&o.SortBy, "sort-by", "OBJECT_SIZE", "PID, OBJECT_SIZE or REFERENCE_TYPE")
	fl.StringVar(&o.Units, "units", "B", "B, KB, MB or GB")
	fl.IntVar(&o.NumEntries, "num-entries", 0, "the most references to show per group (0: all)")
	fl.BoolVar(&o.StatsOnly, "stats-only", false, "show the object stores' use only")
	return cmd
}

// countsText is state counts as Ray prints them: "FINISHED: 3, RUNNING: 1".
func countsText(counts map[string]int) string {
	names := make([]string, 0, len(counts))
	for k := range counts {
		names = append(names, k)
	}
	sort.Strings(names)
	parts := make([]string, len(names))
	for i, k := range names {
		parts[i] = fmt.Sprintf("%s: %d", k, counts[k])
	}
	return strings.Join(parts, ", ")
}

func newTimeline() *cobra.Command {
	var address, output string
	cmd := &cobra.Command{
		Use:   "timeline",
		Short: "Write the runs of the cluster's tasks as a Chrome trace (chrome://tracing, Perfetto)",
		Long: "Write the runs of the cluster's tasks (the latest each node keeps) as a Chrome trace: a\n" +
			"row per node and worker process. Load the file in chrome://tracing or https://ui.perfetto.dev.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, cancel := context.WithTimeout(context.Background(), stateTimeout)
			defer cancel()
			reports, err := gatherReports(ctx, address, "tasks", cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			events := state.Timeline(reports)
			data, err := json.Marshal(events)
			if err != nil {
				return err
			}
			if output == "" {
				output = fmt.Sprintf("timeline-%s.json", time.Now().Format("2006-01-02_15-04-05"))
			}
			if err := os.WriteFile(output, append(data, '\n'), 0o644); err != nil {
				return fmt.Errorf("writing the timeline: %w", err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Trace file written to %s (%d task runs): load it in chrome://tracing or https://ui.perfetto.dev\n", output, len(events))
			return nil
		},
	}
	cmd.Flags().StringVar(&address, "address", "", "the cluster (HOST:PORT of its head); default RAY_ADDRESS, then this machine's cluster")
	cmd.Flags().StringVar(&output, "output", "", "the file to write (default timeline-<time>.json here)")
	return cmd
}
