#!/usr/bin/env bash
# Cluster tests: a real cluster of node processes on this machine, each with its own session
# directory and resources, on loopback addresses (127.0.0.1-6), driven by C++ programs built
# against dist/ as a user builds them, with `ray start`, `ray status` and `ray stop`.
# Usage: [CHAOS_SCALE=N] tests/e2e/cluster.sh DIST_DIR WORK_DIR. Last line: "cluster: N passed,
# N failed".
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
dist="$(cd "${1:?dist dir}" && pwd)"
work="${2:?work dir}"
mkdir -p "$work" && work="$(cd "$work" && pwd)"
# The cluster's own places: its session root, and a home for its token file.
export RAY_TMPDIR="$work/ray"
export HOME="$work/home"
unset RAY_ADDRESS RAY_AUTH_TOKEN RAY_AUTH_TOKEN_PATH
mkdir -p "$RAY_TMPDIR" "$HOME"
ray="$dist/bin/ray"
# The chaos cases (10b, 10c) run for seconds; CHAOS_SCALE=N runs them N times longer (by hand:
# the README's figures come from CHAOS_SCALE=10).
scale="${CHAOS_SCALE:-1}"
case "$scale" in '' | *[!0-9]* | 0) echo "CHAOS_SCALE must be a positive whole number" >&2; exit 2 ;; esac
passed=0
failed=0
. "$here/lib.sh"

leftovers() { goray_leftovers 'ray|default_worker|cluster' "RAY_TMPDIR=$RAY_TMPDIR" "GORAY_NODE_DAEMON_ROOT=$RAY_TMPDIR"; }
cleanup() {
  "$ray" stop --force >/dev/null 2>&1
  for p in $(leftovers); do kill -9 "$p" 2>/dev/null; done
}
trap cleanup EXIT

# The test program, built twice as Ray's template does (the workers load cluster.so).
mkdir -p "$work/bin"
if ! g++ -std=c++17 -O2 -I"$dist/include" "$here/cluster.cc" -o "$work/bin/cluster" -L"$dist/lib" -lray_api -Wl,-rpath,"$dist/lib" ||
  ! g++ -std=c++17 -O2 -fPIC -shared -I"$dist/include" "$here/cluster.cc" -o "$work/bin/cluster.so" -L"$dist/lib" -lray_api -Wl,-rpath,"$dist/lib"; then
  bad "build the cluster test program" "g++ failed"
  echo "cluster: $passed passed, $failed failed"
  exit 1
fi
prog="$work/bin/cluster"

# run NAME TIMEOUT ARGS...: runs the program against the cluster, output in $work/NAME.out.
run() {
  local name="$1" t="$2"; shift 2
  RAY_ADDRESS="$addr" timeout "$t" "$prog" "$@" >"$work/$name.out" 2>&1
}
expect() { # NAME PATTERN: the output of run NAME has a line matching PATTERN (grep -E)
  if grep -qE -- "$2" "$work/$1.out"; then ok "$1"; else bad "$1" "no line like '$2' in: $(tail -5 "$work/$1.out")"; fi
}

gib=$((1 << 30))
store=$((3 << 29)) # 1.5 GiB of shared memory per node
start_node() { # IP RESOURCES [CPUS [ARGS...]]: joins a node (2 CPUs unless told)
  local ip="$1" res="$2" cpus="${3:-2}"
  shift 2; shift $(($# > 0 ? 1 : 0))
  "$ray" start --address="$addr" --node-ip-address="$ip" --num-cpus="$cpus" --resources="$res" --object-store-memory=$store "$@" >"$work/start-$ip.out" 2>&1
}

# 1. The cluster: a head and three nodes, each with a resource of its own.
if "$ray" start --head --port=0 --num-cpus=2 --object-store-memory=$store >"$work/head.out" 2>&1; then
  addr="$(cat "$RAY_TMPDIR/ray_current_cluster")"
  ok "ray start --head"
else
  bad "ray start --head" "$(tail -5 "$work/head.out")"
  echo "cluster: $passed passed, $failed failed"
  exit 1
fi
# (Node B has two GPUs, faked, named 3 and 5 by the CUDA_VISIBLE_DEVICES it starts with.)
CUDA_VISIBLE_DEVICES=3,5 start_node 127.0.0.2 '{"r1": 4}' 2 --num-gpus=2 && start_node 127.0.0.3 '{"r2": 4}' && start_node 127.0.0.4 '{"r3": 4}'
active=$("$ray" status | grep -cE '^ 1 node_[0-9a-f]+$')
if [ "$active" = 4 ]; then ok "four nodes in ray status"; else bad "four nodes in ray status" "$active active: $("$ray" status)"; fi
session_of() { # IP: the session directory of the node at IP
  sed -n 's/.*(session \(.*\))\./\1/p' "$work/start-$1.out"
}
node_b="$(session_of 127.0.0.2)"
node_c="$(session_of 127.0.0.3)"

# 2. Tasks spread over the nodes.
run spread 60 spread 16
n=$(sed -n 's/^nodes \([0-9]*\)$/\1/p' "$work/spread.out")
if [ "${n:-0}" -ge 3 ]; then ok "tasks spread over the nodes ($n)"; else bad "tasks spread over the nodes" "$(cat "$work/spread.out")"; fi

# 3. A custom resource pins a task to its node.
run resource 60 resource
expect resource "^r1 task on $node_b\$"
expect resource "^r1 sum 13\$"

# 3a. Users' metrics: a task on node B records a counter, which node B serves at /metrics (its
# metrics_export_port) to requests with the cluster's token, and refuses to one without.
scrape() { # IP PORT [TOKEN]: GET /metrics over bash's /dev/tcp, the whole answer
  local auth=""
  [ -n "${3:-}" ] && auth="Authorization: Bearer $3"$'\r\n'
  exec 3<>"/dev/tcp/$1/$2" || return 1
  printf 'GET /metrics HTTP/1.0\r\nHost: %s\r\n%s\r\n' "$1" "$auth" >&3
  timeout 10 cat <&3
  exec 3<&-
}
run metrics 60 metrics
expect metrics "^metrics task 5\$"
b_port="$(cat "$node_b/metrics_export_port" 2>/dev/null)"
token="$("$ray" get-auth-token 2>/dev/null | tail -1)"
got=""
for _ in $(seq 50); do
  got="$(scrape 127.0.0.2 "$b_port" "$token")"
  grep -q 'ray_cluster_handled{who="task"} 5' <<<"$got" && break
  sleep 0.2
done
if grep -q 'ray_cluster_handled{who="task"} 5' <<<"$got"; then ok "node B serves the metric its task recorded"
else bad "node B serves the metric its task recorded" "port ${b_port:-?}: $(head -c 400 <<<"$got")"; fi
if scrape 127.0.0.2 "$b_port" | head -1 | grep -q " 401 "; then ok "a metrics request without the token is refused"
else bad "a metrics request without the token is refused" "$(scrape 127.0.0.2 "$b_port" | head -3)"; fi

# 3b. GPUs: tasks asking for one each, at once, see node B's two (by the names it was started
# with); an actor keeps its own; work holding no GPU sees none.
run gpu 60 gpu
expect gpu "^gpu tasks 3,5\$"
expect gpu "^gpu actor (3|5) then \\1\$"
expect gpu "^gpu none \[\]\$"

# 3c. The job's working_dir (RayConfig::runtime_env): the driver ships the directory; a task on
# node B and an actor on node C run in that node's copy of it (unpacked into its session).
mkdir -p "$work/wd/sub" && printf shipped >"$work/wd/data.txt" && printf deeper >"$work/wd/sub/more.txt"
run workdir 60 workdir "$work/wd"
expect workdir "^workdir task shipped in $node_b/runtime_resources/working_dir_files/_ray_pkg_[0-9a-f]{64}\$"
expect workdir "^workdir actor shipped in $node_c/runtime_resources/working_dir_files/_ray_pkg_[0-9a-f]{64}\$"

# 3d. ray::GetRuntimeContext(): a task on node B belongs to the driver's job and names node B;
# the four nodes are listed (GetAllNodeInfo), node B among them, the head once.
run context 60 context
expect context "^context job same node other\$"
expect context "^context nodes 4 alive 4 heads 1 listed 1\$"

# 4. A 1 GiB object made on node B is read on node C, and by the driver on the head.
run big 300 big $gib
expect big "^check ok $gib $node_c\$"
expect big "^driver got $gib bytes"
expect big "^put check ok $gib $node_c\$"

# 4b. ObjectRefs inside values cross nodes: refs the driver put (a small object and one of 8 MiB)
# are read by a task on node C and by an actor on node B, and refs a task or an actor put on node
# B are read by the driver (twice: the node keeps what the driver holds).
run nested 120 nested
expect nested "^inner sum $((10 + 2 * (1 << 20))) on $node_c\$"
expect nested "^returned inner sum $((10 + 2 * (1 << 20)))\$"
expect nested "^actor inner sum $((10 + 2 * (1 << 20))) on $node_b\$"
expect nested "^actor returned inner sum $((10 + 2 * (1 << 20))) \(read 2\)\$"

# The objects are freed on every node once their drivers are gone (usage as the nodes report it).
freed=""
for _ in $(seq 50); do
  if [ "$("$ray" status -v | grep -c '^  0B/.* object_store_memory$')" = 4 ]; then freed=1; break; fi
  sleep 0.1
done
if [ -n "$freed" ]; then ok "objects freed on every node"; else bad "objects freed on every node" "$("$ray" status -v | grep object_store_memory)"; fi

# Drivers find the cluster through RayConfig::address and --ray_address as through RAY_ADDRESS,
# and one that names a node IP no node of this machine has gets a clear error.
RAY_ADDRESS= timeout 60 "$prog" config "$addr" >"$work/config.out" 2>&1
expect config "^config joined 3\$"
RAY_ADDRESS= timeout 60 "$prog" flag --ray_address="$addr" >"$work/flag.out" 2>&1
expect flag "^flag joined 3\$"
if RAY_ADDRESS="$addr" timeout 30 "$prog" flag --ray_node_ip_address=127.0.0.9 >"$work/noip.out" 2>&1; then
  bad "a driver on no node of the cluster is refused" "it ran"
elif grep -q "no node of the cluster runs on this machine .* at 127.0.0.9" "$work/noip.out"; then ok "a driver on no node of the cluster is refused"
else bad "a driver on no node of the cluster is refused" "$(tail -3 "$work/noip.out")"; fi

# 5. An actor on node B called from a driver on the head.
run actor 60 actor
expect actor "^actor sum 100 on $node_b\$"
expect actor "^actor big ok 3145728\$"

# 5b. Worker leases: after the first tasks of a shape that only node B can run, the driver leases
# workers of node B and sends them the rest directly; results are right whatever the arguments
# (values, ObjectRefs, refs inside values), a leased worker whose process dies mid-task has its
# task retried, and leased workers waiting for tasks they submitted lend their CPUs.
logged() { cat "$1"/logs/*.INFO* 2>/dev/null | grep -cE "$2"; } # SESSION PATTERN: lines in its logs
leases_before="$(logged "$node_b" "took a worker lease \(pid [0-9]+\)")"
run lease 120 lease
expect lease "^lease tasks 2000 wrong 0\$"
expect lease "^lease ran 80 on $node_b\$"
expect lease "^lease inner sums wrong 0\$"
expect lease "^idle leases returned yes\$"
leases_after="$(logged "$node_b" "took a worker lease \(pid [0-9]+\)")"
if [ "$leases_after" -gt "$leases_before" ]; then ok "node B lent workers to the driver ($((leases_after - leases_before)) leases)"
else bad "node B lent workers to the driver" "no new lease in $node_b/logs"; fi
rm -rf "$work/crashed" && mkdir -p "$work/crashed" # (a WORK_DIR used before holds the last run's markers)
run leasecrash 120 leasecrash "$work/crashed"
expect leasecrash "^leasecrash wrong 0\$"
if [ -f "$work/crashed/crashed" ] && grep -rqE "retrying task CrashOnce .* after the leased worker at .* was lost" "$RAY_TMPDIR"/session_*/logs/; then
  ok "a task whose leased worker died was retried"
else bad "a task whose leased worker died was retried" "crashed: $(ls "$work/crashed"); no lease retry in the logs"; fi
rm -rf "$work/killedthrice" && mkdir -p "$work/killedthrice"
run killedthrice 120 killedthrice "$work/killedthrice"
expect killedthrice "^killedthrice attempts 4\$"
expect killedthrice "^killedthrice out of retries: .*attempted 3 times"
back_before="$(logged "$node_b" "tasks of lease callers go back to them")"
run leaseblock 120 leaseblock
expect leaseblock "^leaseblock wrong 0\$"
back_after="$(logged "$node_b" "tasks of lease callers go back to them")"
if [ "$back_after" -gt "$back_before" ]; then ok "leased workers waiting in Get handed tasks back"
else bad "leased workers waiting in Get handed tasks back" "no hand-back in $node_b/logs"; fi

# 6. A detached named actor outlives its driver and is found by a second driver on node C.
run detached 60 detached
expect detached "^added 15\$"
run find 60 find --ray_node_ip_address=127.0.0.3
expect find "^found, added 16\$"

# 7. The job's code reaches the nodes through the cluster: the program's files are removed while
# it runs, and node B runs its task from the copies it fetched (into its session).
mkdir -p "$work/moving"
cp "$prog" "$prog.so" "$work/moving/"
RAY_ADDRESS="$addr" timeout 120 "$work/moving/cluster" code "$work/moving.go" >"$work/code.out" 2>&1 &
driver=$!
for _ in $(seq 300); do grep -q '^waiting$' "$work/code.out" && break; sleep 0.1; done
rm -rf "$work/moving"
touch "$work/moving.go"
wait "$driver"
expect code "^code from $node_b/code/[0-9a-f]+/lib\$"

# 8. Scheduling strategies from C++: SPREAD, node affinity (hard and soft) for tasks and actors.
node_c_id="$(sed -n 's/^Node \([0-9a-f]*\) joined.*/\1/p' "$work/start-127.0.0.3.out")"
run strategy 60 strategy "$node_c_id"
expect strategy "^spread nodes 4\$"
expect strategy "^affinity task on $node_c\$"
expect strategy "^affinity actor on $node_c\$"
expect strategy "^hard affinity failed: .*node affinity"
expect strategy "^soft affinity 5\$"

# 9. A request no node can satisfy waits (and ray status says so while it does).
run infeasible 60 infeasible
expect infeasible "^infeasible ready 0 unready 1\$"

# 9b. Placement groups across the nodes: STRICT_SPREAD puts a bundle on each node and stays
# pending with more bundles than nodes; STRICT_PACK keeps its bundles on one node; an actor in a
# bundle dies with its group; a named group is found, waited for and removed by a driver on
# another node; everything reserved comes back; ray status shows no group's own resources.
RAY_ADDRESS="$addr" timeout 180 "$prog" placement >"$work/placement.out" 2>&1 &
driver=$!
for _ in $(seq 600); do grep -q '^pg named ready$' "$work/placement.out" && break; sleep 0.1; done
run pgfind 60 pgfind --ray_node_ip_address=127.0.0.3
wait "$driver"
expect placement "^pg spread created 1\$"
expect placement "^pg spread nodes 4\$"
expect placement "^pg five 0 state 0\$"
expect placement "^pg pack on $node_b $node_b\$"
expect placement "^pg actor 1 on $node_b\$"
expect placement "^pg actor killed: .*placement group .* was removed"
expect pgfind "^pgfind found state 1 wait 1 listed 1\$"
expect placement "^pg named removed by another driver 1\$"
expect placement "^pg all back 1\$"
if "$ray" status | grep -q "_group_"; then bad "ray status hides the groups' resources" "$("$ray" status)"
else ok "ray status hides the groups' resources"; fi

# 10. Drivers without the token, or with another one, are refused with a clear error.
if RAY_ADDRESS="$addr" HOME="$work/nohome" timeout 30 "$prog" spread 1 >"$work/notoken.out" 2>&1; then
  bad "a driver without the token is refused" "it ran"
elif grep -q "no auth token found" "$work/notoken.out"; then ok "a driver without the token is refused"
else bad "a driver without the token is refused" "$(tail -3 "$work/notoken.out")"; fi
if RAY_ADDRESS="$addr" RAY_AUTH_TOKEN="$(printf '0%.0s' $(seq 64))" timeout 30 "$prog" spread 1 >"$work/wrongtoken.out" 2>&1; then
  bad "a driver with a wrong token is refused" "it ran"
elif grep -q "refused this process's token" "$work/wrongtoken.out"; then ok "a driver with a wrong token is refused"
else bad "a driver with a wrong token is refused" "$(tail -3 "$work/wrongtoken.out")"; fi

# 10b. Chaos, the worker killer (Ray's test_chaos): 10,000 small tasks with no limit on retries
# while a random worker process of the cluster is killed every 100 ms: every result is right and
# none is lost. The figures go to the output.
workers_now() { # the pids of the cluster's worker processes that ran for a second at least (one
  # that is killed every time as it starts would stop any node: see TestChaosRandomWorkerKills)
  local pids
  pids="$(grep -la "^$dist/bin/default_worker" /proc/[0-9]*/cmdline 2>/dev/null | sed 's|^/proc/\([0-9]*\)/cmdline$|\1|' | paste -sd, -)"
  [ -n "$pids" ] && ps -o pid=,etimes= -p "$pids" 2>/dev/null | awk '$2 >= 1 {print $1}'
}
RAY_ADDRESS="$addr" timeout $((300 * scale)) "$prog" workerkiller $((10000 * scale)) >"$work/workerkiller.out" 2>&1 &
driver=$!
kills=0
while kill -0 "$driver" 2>/dev/null; do
  mapfile -t victims < <(workers_now)
  if [ "${#victims[@]}" -gt 0 ] && kill -9 "${victims[$((RANDOM % ${#victims[@]}))]}" 2>/dev/null; then kills=$((kills + 1)); fi
  sleep 0.1
done
wait "$driver"
driver_rc=$?
[ $driver_rc -ne 0 ] && echo "(the driver exited with status $driver_rc; 128+N is signal N)" >>"$work/workerkiller.out"
chaos="$(sed -n 's/^workerkiller //p' "$work/workerkiller.out"), $kills kills" # (retries: at the end, once the logs are flushed)
expect workerkiller "^workerkiller tasks $((10000 * scale)) wrong 0 lost 0 seconds"
if [ "$kills" -ge 5 ]; then ok "the worker killer killed workers ($kills)"; else bad "the worker killer killed workers" "$kills kills"; fi

# 10c. Chaos, the node killer (Ray's test_chaos and its nightly chaos test): two more nodes join
# (4 CPUs each); one of them is killed and started again every few seconds while 16 actors (no limit on
# restarts or call retries, on those two nodes) get 300 calls each, and while 400 tasks on those
# nodes each submit a task returning 50 KiB. Every call's effect comes back, each actor's state is
# consistent, every sum is right. The figures go to the output.
node_pid() { # IP: the pid of the node process at IP
  for p in /proc/[0-9]*; do
    if tr '\0' ' ' 2>/dev/null <"$p/cmdline" | grep -q -- "--node-ip-address=$1 .*--block"; then echo "${p#/proc/}"; fi
  done
}
chaos_nodes_up=1
start_node 127.0.0.5 '{"chaos": 100}' 4 && start_node 127.0.0.6 '{"chaos": 100}' 4 || chaos_nodes_up=""
if [ -n "$chaos_nodes_up" ]; then ok "two chaos nodes join"; else bad "two chaos nodes join" "$(tail -3 "$work/start-127.0.0.6.out")"; fi
RAY_ADDRESS="$addr" timeout $((300 * scale)) "$prog" nodekiller 16 $((300 * scale)) 50 >"$work/nodekiller.out" 2>&1 &
nodekiller=$!
RAY_ADDRESS="$addr" timeout $((300 * scale)) "$prog" nestedkiller $((400 * scale)) 20 >"$work/nestedkiller.out" 2>&1 &
nestedkiller=$!
node_kills=0
restarts_failed=0
victim=5
while kill -0 "$nodekiller" 2>/dev/null || kill -0 "$nestedkiller" 2>/dev/null; do
  sleep 1
  pid="$(node_pid 127.0.0.$victim)"
  if [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null; then node_kills=$((node_kills + 1)); fi
  start_node 127.0.0.$victim '{"chaos": 100}' 4 || restarts_failed=$((restarts_failed + 1))
  victim=$((11 - victim)) # 5, 6, 5, ...
done
wait "$nodekiller"
wait "$nestedkiller"
expect nodekiller "^nodekiller actors 16 calls $((4800 * scale)) wrong 0 lost 0 restarts [0-9]+ seconds"
expect nestedkiller "^nestedkiller tasks $((400 * scale)) wrong 0 lost 0 seconds"
restarts="$(sed -n 's/.* restarts \([0-9]*\) .*/\1/p' "$work/nodekiller.out")"
# Each chaos node killed once at least (a kill and its restart take a few seconds; the drivers,
# paced, run for 15 s or so).
if [ "$node_kills" -ge 2 ] && [ "${restarts:-0}" -ge 1 ] && [ "$restarts_failed" = 0 ]; then
  ok "the node killer killed and restarted nodes ($node_kills), and actors restarted (${restarts:-0})"
else bad "the node killer killed and restarted nodes, and actors restarted" "$node_kills kills, ${restarts:-0} actor restarts, $restarts_failed failed starts"; fi
chaos_nodes="$node_kills node kills; $(sed -n 's/^nodekiller //p' "$work/nodekiller.out"); $(sed -n 's/^nestedkiller //p' "$work/nestedkiller.out")"
for ip in 127.0.0.5 127.0.0.6; do # (the chaos nodes go for good)
  pid="$(node_pid $ip)"
  [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null
done

# 11. Node D killed with SIGKILL: seen dead, its work fails naming it, the rest goes on; an actor
# there with a restart left and call retries runs its call in flight again on another node.
node_d_id="$(sed -n 's/^Node \([0-9a-f]*\) joined.*/\1/p' "$work/start-127.0.0.4.out")"
node_d_session="$(session_of 127.0.0.4)"
RAY_ADDRESS="$addr" timeout 120 "$prog" doomed "$node_d_id" >"$work/doomed.out" 2>&1 &
driver=$!
for _ in $(seq 300); do grep -q '^ready$' "$work/doomed.out" && break; sleep 0.1; done
node_d="$(node_pid 127.0.0.4)"
if [ -z "$node_d" ]; then bad "kill node D" "no process of node D"; else kill -9 "$node_d"; fi
wait "$driver"
expect doomed "^task failed: .*127\.0\.0\.4"
expect doomed "^actor failed: .*127\.0\.0\.4"
expect doomed "^rest 3 4\$"
expect doomed "^pg nodes 4 on D 1\$"
expect doomed "^pg rescheduled off D 1\$"
expect doomed "^mover up 5 on $node_d_session\$"
expect doomed "^lineage 4194304 right\$"
expect doomed "^owner died: .*no live node"
expect doomed "^lost: ObjectLostError: .*cannot be rebuilt: the task had no retries left"
big_id="$(sed -n 's/^big //p' "$work/doomed.out")"
if grep -E "^mover call ran on .* count 0\$" "$work/doomed.out" | grep -vq "$node_d_session"; then ok "an actor call in flight on the killed node ran on the actor's new instance"
else bad "an actor call in flight on the killed node ran on the actor's new instance" "$(grep mover "$work/doomed.out")"; fi
dead=""
for _ in $(seq 200); do
  st="$("$ray" status)"
  if grep -q "(ip: 127.0.0.4)" <<<"$st" && [ "$(grep -cE '^ 1 node_' <<<"$st")" = 3 ]; then dead=1; break; fi
  sleep 0.2
done
if [ -n "$dead" ]; then ok "the killed node is dead in ray status"; else bad "the killed node is dead in ray status" "$("$ray" status)"; fi

# 12. ray stop ends every node, worker and detached actor; nothing is left behind.
"$ray" stop >"$work/stop.out" 2>&1
sleep 0.2
left="$(leftovers)"
if [ -z "$left" ]; then ok "ray stop leaves no process behind"; else bad "ray stop leaves no process behind" "left: $left"; fi
stale=""
for s in "$RAY_TMPDIR"/session_2*; do
  [ -e "/dev/shm/goray_$(basename "$s")_objects" ] && stale="$stale $s"
done
if [ -z "$stale" ]; then ok "ray stop removes the object stores"; else bad "ray stop removes the object stores" "left:$stale"; fi

# The worker killer's figures, with the retries its kills caused, counted in the logs, which the
# nodes flushed as they stopped.
retried="$(cat "$RAY_TMPDIR"/session_*/logs/*.INFO* 2>/dev/null | grep -cE "retrying task ChaosPlusOne|running task ChaosPlusOne .* again alone")"
echo "chaos worker killer: ${chaos:-did not run}, $retried retries"
nested_retried="$(cat "$RAY_TMPDIR"/session_*/logs/*.INFO* 2>/dev/null | grep -cE "retrying task (NestedFifty|Fifty)|running task (NestedFifty|Fifty) .* again alone")"
echo "chaos node killer: ${chaos_nodes:-did not run}, $nested_retried nested task retries"
# The placement group's bundle on the killed node was placed again (its owner's log says so).
if grep -qh "placement group .* lost 1 bundles on node" "$RAY_TMPDIR"/session_*/logs/*.INFO* 2>/dev/null; then
  ok "a placement group's bundle lost with its node was rescheduled"
else bad "a placement group's bundle lost with its node was rescheduled" "no such line in the logs"; fi
# The big object of the killed node was made again from its lineage (the nodes' logs say so).
if [ -n "$big_id" ] && grep -qh "rebuilding object $big_id, the result of .*MakeBig" "$RAY_TMPDIR"/session_*/logs/*.INFO* 2>/dev/null; then
  ok "an object lost with its node was made again from its lineage"
else bad "an object lost with its node was made again from its lineage" "no rebuild of ${big_id:-?} in the logs"; fi

echo "cluster: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
