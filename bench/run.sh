#!/usr/bin/env bash
# goray microbenchmark: Ray's `ray microbenchmark` metrics for the C++ API, with the machine floor.
#
#   bench/run.sh [--mode=node|local|both] [--reps=N] [--quick] [--only=m1,m2,...] [--list]
#
#   --mode   node (default): embedded node, workers in processes; local: config.local_mode = true;
#            both: local, then node (the table lists node first).
#   --reps   timed repetitions per metric (default 5); --quick: 1 rep, short loops, small sizes.
#   --only   a comma-separated subset of the metrics (bench/run.sh --list names them).
#
# Builds dist/ if it is missing (make -s all in the repository), builds bench/build/microbenchmark
# and bench/build/microbenchmark.so (the library the workers load the remote functions from), and
# runs the benchmark with the arguments given. Sessions go to a temporary RAY_TMPDIR, removed at
# exit. stdout: a table (lines starting with "|" or "#") and one JSON line per metric and mode;
# stderr: progress. Exit code 1 when a metric failed.
#
# Examples:
#   bench/run.sh --quick --mode=both                     # smoke run, about a minute
#   bench/run.sh --mode=both                             # the full run
#   bench/run.sh --only=single_client_tasks_sync,1_1_actor_calls_sync --reps=9
#   bench/run.sh --mode=both | grep '^{' > results.jsonl # the JSON lines only
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(dirname "$here")"
export PATH="$PATH:/usr/local/go/bin"

if [[ ! -f "$repo/dist/lib/libray_api.so" || ! -f "$repo/dist/bin/default_worker" || ! -f "$repo/dist/include/ray/api.h" ]]; then
  echo "building dist/ (make -s all) ..." >&2
  make -s -C "$repo" all >&2
fi

dist="$repo/dist"
out="$here/build"
mkdir -p "$out"
src="$here/microbenchmark.cc"
flags=(-std=c++17 -O2 -Wall -I"$dist/include")
libs=(-L"$dist/lib" -lray_api -Wl,-rpath,"$dist/lib")
# Rebuild when the source, the headers or the library changed.
if [[ ! -x "$out/microbenchmark" || ! -f "$out/microbenchmark.so" || "$src" -nt "$out/microbenchmark" \
      || "$dist/lib/libray_api.so" -nt "$out/microbenchmark" || "$dist/include/ray/api.h" -nt "$out/microbenchmark" ]]; then
  echo "building bench/build/microbenchmark{,.so} ..." >&2
  g++ "${flags[@]}" "$src" -o "$out/microbenchmark.tmp" "${libs[@]}" &
  g++ "${flags[@]}" -fPIC -shared "$src" -o "$out/microbenchmark.so.tmp" "${libs[@]}" &
  wait %1 && wait %2
  mv "$out/microbenchmark.so.tmp" "$out/microbenchmark.so"
  mv "$out/microbenchmark.tmp" "$out/microbenchmark"
fi

RAY_TMPDIR="$(mktemp -d "${TMPDIR:-/tmp}/goray-bench.XXXXXX")"
export RAY_TMPDIR
trap 'rm -rf "$RAY_TMPDIR"' EXIT
"$out/microbenchmark" "$@"
