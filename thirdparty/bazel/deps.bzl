"""Repositories rules_go and gazelle take from GitHub, taken through the Go module proxy instead.

Kept out of go/deps.bzl (which gazelle update-repos rewrites from go.mod): these are the versions
rules_go v0.34 and gazelle v0.26 were made with, not the project's ("# keep": update-repos leaves
them as they are).
"""

load("@bazel_gazelle//:deps.bzl", "go_repository")

def rules_go_support():
    """Declares golang.org/x/tools and x/xerrors at rules_go v0.34's versions."""
    go_repository(
        name = "org_golang_x_tools",
        build_file_proto_mode = "disable_global",
        importpath = "golang.org/x/tools",
        sum = "h1:loJ25fNOEhSXfHrpoGj91eCUThwdNX6u24rO1xnNteY=",  # keep
        version = "v0.1.11",  # keep
    )
    go_repository(
        name = "org_golang_x_xerrors",
        build_file_proto_mode = "disable_global",
        importpath = "golang.org/x/xerrors",
        sum = "h1:uF6paiQQebLeSXkrTqHqz0MXhXXS1KgF41eUdBNvxK0=",  # keep
        version = "v0.0.0-20220609144429-65e65417b02f",  # keep
    )
