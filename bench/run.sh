#!/usr/bin/env bash
# goray microbenchmark: Ray's `ray microbenchmark` metrics for the C++ API, with the machine floor.
#
#   bench/run.sh [--mode=node|local|both|cluster|all] [--reps=N] [--quick] [--only=m1,m2,...] [--list]
#
#   --mode   node (default): embedded node, workers in processes; local: config.local_mode = true;
#            both: local, then node (the table lists node first); cluster: the cross_node_* metrics
#            on a cluster of three nodes on this machine (below); all: node, then cluster.
#   --reps   timed repetitions per metric (default 5); --quick: 1 rep, short loops, small sizes.
#   --only   a comma-separated subset of the metrics (bench/run.sh --list names them).
#
# Builds dist/ if it is missing (make -s all in the repository), builds bench/build/microbenchmark
# and bench/build/microbenchmark.so (the library the workers load the remote functions from), and
# runs the benchmark with the arguments given. Sessions go to a temporary RAY_TMPDIR, removed at
# exit. stdout: a table (lines starting with "|" or "#") and one JSON line per metric and mode;
# stderr: progress. Exit code 1 when a metric failed.
#
# Cluster mode (--mode=cluster or all): before the benchmark this script starts, with dist/bin/ray,
# a head node on 127.0.0.1 (port 0: any free one; the driver attaches to it) with the custom
# resource {"bench_local": 1000}, and node B on 127.0.0.2 with {"bench_remote": 1000}, which the
# cross-node tasks and actors ask for; each node has $BENCH_CPUS CPUs (default: the machine's) and
# a 3 GiB object store. The head's address goes to the benchmark in RAY_ADDRESS. HOME and
# RAY_AUTH_TOKEN_PATH point into the temporary directory, so the cluster token never touches
# ~/.ray. The nodes (and their workers) are stopped at exit (ray stop, scoped to RAY_TMPDIR), also
# when the benchmark fails or is interrupted.
#
# Examples:
#   bench/run.sh --quick --mode=both                     # smoke run, about a minute
#   bench/run.sh --mode=both                             # the full run
#   bench/run.sh --only=single_client_tasks_sync,1_1_actor_calls_sync --reps=9
#   bench/run.sh --mode=both | grep '^{' > results.jsonl # the JSON lines only
#   bench/run.sh --mode=cluster --quick                  # cross-node figures, smoke run
#   bench/run.sh --mode=all                              # single-node, then cross-node figures
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

# Does this run need a cluster? (--mode=cluster|all, and not just --list or --help.)
mode=node
info=""
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
  case "${args[i]}" in
    --mode=*) mode="${args[i]#--mode=}" ;;
    --mode) mode="${args[i + 1]:-}" ;;
    --list | -h | --help) info=1 ;;
  esac
done

RAY_TMPDIR="$(mktemp -d "${TMPDIR:-/tmp}/goray-bench.XXXXXX")"
export RAY_TMPDIR
cluster_started=""
bench_pid=""
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  if [[ -n "$bench_pid" ]] && kill -0 "$bench_pid" 2>/dev/null; then
    kill "$bench_pid" 2>/dev/null || true  # interrupted: the benchmark this script started
    wait "$bench_pid" 2>/dev/null || true
  fi
  if [[ -n "$cluster_started" ]]; then
    # ray stop scopes to RAY_TMPDIR: only the nodes (and workers) this script started.
    if ! "$dist/bin/ray" stop --grace-period=10 >"$RAY_TMPDIR/stop.log" 2>&1; then
      echo "WARNING: ray stop failed:" >&2
      cat "$RAY_TMPDIR/stop.log" >&2
      rc=1
    fi
  fi
  rm -rf "$RAY_TMPDIR"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

if [[ -z "$info" && ( "$mode" == cluster || "$mode" == all ) ]]; then
  export HOME="$RAY_TMPDIR/home"
  export RAY_AUTH_TOKEN_PATH="$RAY_TMPDIR/auth_token"
  unset RAY_AUTH_TOKEN RAY_ADDRESS
  mkdir -p "$HOME"
  cpus="${BENCH_CPUS:-$(nproc)}"
  store=$((3 << 30))  # bytes per node: room for the 1 GiB object of cross_node_object_transfer
  start_node() {  # start_node LOG ARGS...: ray start, its output to LOG (shown when it fails)
    local log="$RAY_TMPDIR/$1"
    shift
    if ! "$dist/bin/ray" start --num-cpus="$cpus" --object-store-memory="$store" "$@" >"$log" 2>&1; then
      echo "ERROR: ray start $* failed:" >&2
      cat "$log" >&2
      exit 1
    fi
  }
  cluster_started=1
  start_node start-head.log --head --port=0 --resources='{"bench_local": 1000}'
  address="$(cat "$RAY_TMPDIR/ray_current_cluster")"
  start_node start-node-b.log --address="$address" --node-ip-address=127.0.0.2 \
    --resources='{"bench_remote": 1000}'
  # Node C only holds bundles of cross_node_placement_group_create_removal (a small store).
  "$dist/bin/ray" start --num-cpus="$cpus" --object-store-memory=$((256 << 20)) --address="$address" \
    --node-ip-address=127.0.0.3 >"$RAY_TMPDIR/start-node-c.log" 2>&1 || { cat "$RAY_TMPDIR/start-node-c.log" >&2; exit 1; }
  echo "cluster: head at $address, node B on 127.0.0.2 ($cpus CPUs, $((store >> 30)) GiB object store each), node C on 127.0.0.3" >&2
  export RAY_ADDRESS="$address"
fi

# In the background, so that an interrupt reaches the trap at once (bash runs traps only between
# commands, and a foreground child may run for minutes).
"$out/microbenchmark" "$@" &
bench_pid=$!
wait "$bench_pid"
