"""go_module: a repository made of a Go module's files, taken from the Go module proxy.

Bazel rule sets that are also Go modules (rules_go, gazelle) come through the same door as every
Go dependency: `go mod download` (GOPROXY, the module cache, the checksum database), so the build
needs no other download and pins them by version and go.sum-style checksum.
"""

def _go_module_impl(ctx):
    go = ctx.attr.go
    if not ctx.path(go).exists:
        found = ctx.which("go")
        if found == None:
            fail("go_module: no Go at %s and none on PATH" % go)
        go = str(found)
    spec = ctx.attr.module + "@" + ctx.attr.version
    res = ctx.execute(
        [go, "mod", "download", "-json", spec],
        environment = {"GO111MODULE": "on", "GOFLAGS": "-mod=mod"},
        timeout = 600,
    )
    if res.return_code != 0:
        fail("go_module: go mod download %s failed:\n%s%s" % (spec, res.stdout, res.stderr))
    info = json.decode(res.stdout)
    if info.get("Error"):
        fail("go_module: %s: %s" % (spec, info["Error"]))
    if ctx.attr.sum and info.get("Sum") != ctx.attr.sum:
        fail("go_module: %s has checksum %s, want %s" % (spec, info.get("Sum"), ctx.attr.sum))

    # The module cache is read-only: copy, then make the copy writable for Bazel's own files.
    res = ctx.execute(["cp", "-R", info["Dir"] + "/.", "."])
    if res.return_code != 0:
        fail("go_module: copying %s: %s" % (info["Dir"], res.stderr))
    ctx.execute(["chmod", "-R", "u+w", "."])
    for cmd in ctx.attr.patch_cmds:
        res = ctx.execute(["/bin/sh", "-c", cmd])
        if res.return_code != 0:
            fail("go_module: %s: patch command %r failed: %s" % (spec, cmd, res.stderr))

go_module = repository_rule(
    implementation = _go_module_impl,
    attrs = {
        "module": attr.string(mandatory = True, doc = "the module path"),
        "version": attr.string(mandatory = True, doc = "the module version"),
        "sum": attr.string(doc = "the module's h1: checksum (as in go.sum); checked when set"),
        "patch_cmds": attr.string_list(doc = "shell commands run in the repository after the copy"),
        "go": attr.string(default = "/usr/lib/go-1.19/bin/go", doc = "the go command"),
    },
    environ = ["GOPROXY", "GOMODCACHE", "GOPATH", "HOME", "GONOSUMDB", "GOFLAGS"],
    doc = "A Go module's files as a repository, downloaded through the Go module proxy.",
)
