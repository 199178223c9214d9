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
		Use:   "summary tasks|actors",
		Short: "Count the cluster's tasks by function, or its actors by class, in each state (Ray's state API)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if format != "table" && format != "json" {
				return fmt.Errorf("--format is table or json, not %q", format)
			}
			if args[0] != "tasks" && args[0] != "actors" {
				return fmt.Errorf("ray summary %s: goray summarizes tasks or actors", args[0])
			}
			ctx, cancel := context.WithTimeout(context.Background(), stateTimeout)
			defer cancel()
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
				return fmt.Errorf("ray summary %s: goray summarizes tasks or actors", args[0])
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
