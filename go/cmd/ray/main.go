// Command ray is goray's command-line tool, with Ray's spellings: `ray start --head`,
// `ray start --address`, `ray stop`, `ray status`, `ray get-auth-token`, `ray job ...`,
// `ray list ...`, `ray get ...`, `ray summary ...`, `ray timeline`, `ray logs`,
// `ray cpp --show-library-path`,
// `ray cpp --generate-bazel-project-template-to DIR`, `ray --version`.
package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"goray/project"
)

// version is goray's version, printed by --version.
const version = "0.1.0"

func main() {
	os.Exit(runMain(os.Args[1:]))
}

// runMain runs the command line args and returns the exit code.
func runMain(args []string) int {
	root := newRoot()
	root.SetArgs(args)
	if err := root.Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "Error:", err)
		return 1
	}
	return 0
}

func newRoot() *cobra.Command {
	root := &cobra.Command{
		Use:   "ray",
		Short: "goray: Ray's C++ API on a Go runtime",
		Long: "ray is goray's command-line tool.\n\n" +
			"goray runs C++ programs written against Ray's C++ API (ray::Init, ray::Task, ray::Actor,\n" +
			"ray::Get, ...): `ray cpp` shows where the headers and library are and writes a ready project.",
		Version:       version,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetVersionTemplate("ray, version {{.Version}} (goray)\n")
	root.AddCommand(newCpp(), newStart(), newStop(), newStatus(), newGetAuthToken(), newJob(), newList(), newGet(), newSummary(), newMemory(), newTimeline(), newLogs())
	return root
}

func newCpp() *cobra.Command {
	var showPath bool
	var templateDir string
	cmd := &cobra.Command{
		Use:   "cpp",
		Short: "Show the C++ include and library paths, or generate a C++ project template",
		Long: "Show the C++ include and library paths, or generate a C++ project template.\n\n" +
			"  ray cpp --show-library-path\n" +
			"  ray cpp --generate-bazel-project-template-to DIR\n\n" +
			"The template is a self-contained project (WORKSPACE, BUILD.bazel, CMakeLists.txt, example.cc,\n" +
			"run.sh and thirdparty/ with the headers, libray_api.so and default_worker): `cd DIR && bash run.sh`\n" +
			"builds it with Bazel (offline, Debian's Bazel) and runs it; `bash run.sh --cmake` uses CMake.\n" +
			"DIR is replaced when it is empty or a template generated before; anything else is refused.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if !showPath && !cmd.Flags().Changed("generate-bazel-project-template-to") {
				return fmt.Errorf("ray cpp needs --show-library-path or --generate-bazel-project-template-to DIR (see ray cpp --help)")
			}
			root, err := project.FindRoot()
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if showPath {
				fmt.Fprintf(out, "Ray C++ include path %s\n", root.IncludeDir())
				fmt.Fprintf(out, "Ray C++ library path %s\n", root.LibDir())
			}
			if cmd.Flags().Changed("generate-bazel-project-template-to") {
				if templateDir == "" {
					return fmt.Errorf("--generate-bazel-project-template-to needs a directory")
				}
				if err := project.Generate(root, templateDir); err != nil {
					return err
				}
				fmt.Fprintf(out, "Project template generated to %s\n", templateDir)
				fmt.Fprintf(out, "To build and run this template, run\n")
				fmt.Fprintf(out, "    cd %s && bash run.sh\n", templateDir)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&showPath, "show-library-path", false, "print the C++ include and library directories")
	cmd.Flags().StringVar(&templateDir, "generate-bazel-project-template-to", "", "write a C++ project template (Bazel and CMake) to DIR, replacing a template there")
	return cmd
}
