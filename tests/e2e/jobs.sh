#!/usr/bin/env bash
# Job and state API tests: a real cluster of two nodes on this machine (127.0.0.1, 127.0.0.2), jobs
# submitted with `ray job ...` and with plain HTTP (curl) to the head's job API, closed by the
# cluster's token, C++ drivers run as jobs (built against dist/ as a user builds them), and
# `ray list` / `ray get` of what they left.
# Usage: tests/e2e/jobs.sh DIST_DIR WORK_DIR. Last line: "jobs: N passed, N failed".
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
dist="$(cd "${1:?dist dir}" && pwd)"
work="${2:?work dir}"
mkdir -p "$work" && work="$(cd "$work" && pwd)"
export RAY_TMPDIR="$work/ray"
export HOME="$work/home"
unset RAY_ADDRESS RAY_API_SERVER_ADDRESS RAY_AUTH_TOKEN RAY_AUTH_TOKEN_PATH
mkdir -p "$RAY_TMPDIR" "$HOME"
ray="$dist/bin/ray"
passed=0
failed=0
. "$here/lib.sh"

leftovers() { goray_leftovers 'ray|default_worker|jobdriver|sleep|sh' "RAY_TMPDIR=$RAY_TMPDIR" "GORAY_NODE_DAEMON_ROOT=$RAY_TMPDIR"; }
# sleepers: the job commands `sleep 300` of this suite that run.
sleepers() { for p in $(leftovers); do [ "$(tr '\0' ' ' </proc/$p/cmdline 2>/dev/null)" = "sleep 300 " ] && echo "$p"; done; }
cleanup() {
  "$ray" stop --force >/dev/null 2>&1
  for p in $(leftovers); do kill -9 "$p" 2>/dev/null; done
}
trap cleanup EXIT
finish() { echo "jobs: $passed passed, $failed failed"; [ "$failed" -eq 0 ]; exit; }

# The driver, built as Ray's template builds it (the workers load jobdriver.so), in a project
# directory that the jobs upload as their working_dir.
proj="$work/project"
mkdir -p "$proj"
if ! g++ -std=c++17 -O1 -I"$dist/include" "$here/jobdriver.cc" -o "$proj/jobdriver" -L"$dist/lib" -lray_api -Wl,-rpath,"$dist/lib" ||
  ! g++ -std=c++17 -O1 -fPIC -shared -I"$dist/include" "$here/jobdriver.cc" -o "$proj/jobdriver.so" -L"$dist/lib" -lray_api -Wl,-rpath,"$dist/lib"; then
  bad "build the job driver" "g++ failed"
  finish
fi
echo "shipped with the job" >"$proj/data.txt"

# 1. A head (its job API on any free port) and node B, the only node with resource "b".
if "$ray" start --head --port=0 --dashboard-port=0 --num-cpus=2 --object-store-memory=$((1 << 29)) >"$work/head.out" 2>&1; then
  ok "ray start --head"
else
  bad "ray start --head" "$(tail -5 "$work/head.out")"
  finish
fi
addr="$(cat "$RAY_TMPDIR/ray_current_cluster")"
api="$(sed -n 's/.*Ray Dashboard and job API: \(http:[^ ]*\).*/\1/p' "$work/head.out")"
case "$api" in
  http://127.0.0.1:[0-9]*) ok "the head prints its job API's address ($api)" ;;
  *) bad "the head prints its job API's address" "$(cat "$work/head.out")"; finish ;;
esac
"$ray" start --address="$addr" --node-ip-address=127.0.0.2 --num-cpus=2 --resources='{"b": 2}' --object-store-memory=$((1 << 29)) >"$work/b.out" 2>&1 ||
  bad "node B joins" "$(tail -5 "$work/b.out")"
token="$("$ray" get-auth-token)"

# 2. A C++ driver submitted as a job with its project as working_dir, followed to SUCCEEDED;
#    the job's runtime_env reaches its tasks on node B, and so does the working_dir.
(cd "$proj" && timeout 120 "$ray" job submit --working-dir . --submission-id envjob \
  --runtime-env-json '{"env_vars": {"JOB_GREETING": "hello from the job"}}' -- ./jobdriver env) >"$work/submit.out" 2>&1
rc=$?
if [ $rc -eq 0 ] && grep -q "^Job 'envjob' succeeded" "$work/submit.out"; then ok "ray job submit follows a C++ driver to SUCCEEDED"; else bad "ray job submit" "rc=$rc $(tail -8 "$work/submit.out")"; fi
grep -qx "task greeting hello from the job" "$work/submit.out" && ok "the job's env_vars reach its tasks on another node" || bad "job env_vars on node B" "$(grep task "$work/submit.out")"
grep -qx "task reads shipped with the job" "$work/submit.out" && ok "the job's working_dir reaches its tasks on another node" || bad "job working_dir on node B" "$(grep task "$work/submit.out")"
out="$("$ray" job status envjob 2>&1)"
grep -qx "Status for job 'envjob': SUCCEEDED" <<<"$out" && ok "ray job status" || bad "ray job status" "$out"
out="$("$ray" job logs envjob 2>&1)"
grep -qx "task greeting hello from the job" <<<"$out" && ok "ray job logs" || bad "ray job logs" "$out"

# 2b. The state API: `ray list` and `ray get` of what the job left (a detached actor on node B,
#     an actor it killed, its placement group) and of the nodes.
node_b="$(sed -n 's/^Node \([0-9a-f]*\) joined.*/\1/p' "$work/b.out")"
(cd "$proj" && timeout 120 "$ray" job submit --working-dir . --submission-id actorjob -- ./jobdriver actors) >"$work/actors.out" 2>&1 ||
  bad "the actors job" "$(tail -5 "$work/actors.out")"
out="$("$ray" list nodes 2>&1)"
[ "$(grep -cE '^[0-9]+ +[0-9a-f]{32} +127\.0\.0\.[12] +(True|False) +ALIVE' <<<"$out")" = 2 ] && grep -q "Total: 2" <<<"$out" && ok "ray list nodes" || bad "ray list nodes" "$out"
out="$("$ray" list actors --filter "state=ALIVE" --format json 2>&1)"
if grep -q '"name": "keeper"' <<<"$out" && grep -q "\"node_id\": \"$node_b\"" <<<"$out" && grep -qE '"pid": [1-9][0-9]*' <<<"$out" &&
  grep -q '"class_name": "Keeper"' <<<"$out" && ! grep -q '"name": "gone"' <<<"$out"; then
  ok "ray list actors --filter state=ALIVE: the detached actor on node B, with its pid"
else
  bad "ray list actors (alive)" "node B $node_b: $out"
fi
out="$("$ray" list actors --filter "name=gone" 2>&1)"
grep -qE '^0 +[0-9a-f]{32} +Keeper +DEAD +[0-9a-f]+ +gone' <<<"$out" && ok "ray list actors shows a killed actor DEAD" || bad "ray list actors (dead)" "$out"
keeper_id="$("$ray" list actors --filter name=keeper --format json | sed -n 's/.*"actor_id": "\([0-9a-f]*\)".*/\1/p')"
out="$("$ray" get actors "$keeper_id" 2>&1)"
grep -q '"is_detached": true' <<<"$out" && grep -q '"b": 1' <<<"$out" && ok "ray get actors ID" || bad "ray get actors" "id '$keeper_id': $out"
out="$("$ray" list placement-groups --filter name=pgkeep --format json 2>&1)"
grep -q '"strategy": "PACK"' <<<"$out" && grep -q '"CPU": 1' <<<"$out" && ok "ray list placement-groups" || bad "ray list placement-groups" "$out"
out="$("$ray" list actors --limit 1 2>&1)"
grep -q "Total: 1" <<<"$out" && grep -q "cut at --limit 1" <<<"$out" && ok "ray list --limit" || bad "ray list --limit" "$out"
out="$("$ray" list actors --filter colour=red 2>&1)"; rc=$?
[ $rc -ne 0 ] && grep -q 'filter key "colour" is none of' <<<"$out" && ok "an unknown filter key fails clearly" || bad "unknown filter key" "$out"
out="$("$ray" list widgets 2>&1)"; rc=$?
[ $rc -ne 0 ] && grep -q "goray lists nodes, actors" <<<"$out" && ok "an unknown kind fails clearly" || bad "unknown kind" "$out"
out="$("$ray" list jobs --filter status=SUCCEEDED 2>&1)"
grep -qE '^[0-9]+ +[0-9a-f]{8} +envjob +\./jobdriver env +SUBMISSION +SUCCEEDED' <<<"$out" && grep -qE '^[0-9]+ +[0-9a-f]{8} +actorjob .* SUCCEEDED' <<<"$out" &&
  ok "ray list jobs: the submitted jobs, with their drivers' job ids" || bad "ray list jobs" "$out"
out="$("$ray" list tasks --filter name=Greeting --format json 2>&1)"
grep -q '"state": "FINISHED"' <<<"$out" && grep -q "\"node_id\": \"$node_b\"" <<<"$out" && grep -qE '"worker_pid": [1-9]' <<<"$out" &&
  ok "ray list tasks: the job's task ran on node B" || bad "ray list tasks" "$out"
out="$("$ray" summary tasks 2>&1)"
grep -qE '^[0-9]+ +Keeper\.Ping +FINISHED: 2 +ACTOR_TASK' <<<"$out" && grep -qE '^[0-9]+ +Greeting +FINISHED: 1 +NORMAL_TASK' <<<"$out" &&
  ok "ray summary tasks counts tasks and actor calls by function and state" || bad "ray summary tasks" "$out"
out="$("$ray" summary actors 2>&1)"
grep -qE '^[0-9]+ +Keeper +ALIVE: 1, DEAD: 1' <<<"$out" && ok "ray summary actors" || bad "ray summary actors" "$out"
out="$("$ray" timeline --output "$work/timeline.json" 2>&1)"
if grep -q "Trace file written to $work/timeline.json" <<<"$out" && grep -q '"ph":"X"' "$work/timeline.json" &&
  grep -q '"name":"Keeper.Ping"' "$work/timeline.json" && grep -q "\"pid\":\"Node $node_b\"" "$work/timeline.json"; then
  ok "ray timeline writes a Chrome trace of the runs, a row per node and worker"
else
  bad "ray timeline" "$out $(head -c 300 "$work/timeline.json")"
fi
# Ray's system metrics on each node's /metrics: node B ran Greeting; the head owns keeper.
b_session="$(sed -n 's/.*(session \(.*\))\./\1/p' "$work/b.out")"
b_metrics="$(curl -s -H "Authorization: Bearer $token" "http://127.0.0.2:$(cat "$b_session/metrics_export_port")/metrics")"
grep -q '^ray_tasks{Name="Greeting",State="FINISHED"} 1$' <<<"$b_metrics" && grep -q '^ray_resources{Name="b",State="USED"} 1$' <<<"$b_metrics" &&
  grep -q '^ray_object_store_available_memory ' <<<"$b_metrics" && ok "node B's /metrics: ray_tasks, ray_resources (the actor holds b), the object store" || bad "node B's metrics" "$(grep '^ray_' <<<"$b_metrics" | head -20)"
all_metrics=""
for port_file in "$RAY_TMPDIR"/session_*/metrics_export_port; do
  all_metrics+="$(curl -s -H "Authorization: Bearer $token" "http://127.0.0.1:$(cat "$port_file")/metrics" 2>/dev/null)"$'\n'
done
grep -q '^ray_actors{Name="Keeper",State="ALIVE"} 1$' <<<"$all_metrics" && ok "the head's /metrics: ray_actors by class and state" || bad "the head's ray_actors" "$(grep '^ray_actors' <<<"$all_metrics")"
# The head's Prometheus discovery file names both nodes' endpoints; each serves its gRPC
# servers' latencies (the state calls above reached every node; the control store is the head's).
targets="$(grep -oE '"[0-9.]+:[0-9]+"' "$RAY_TMPDIR/prom_metrics_service_discovery.json" 2>/dev/null | tr -d '"')"
[ "$(wc -w <<<"$targets")" = 2 ] && grep -qx "127.0.0.2:$(cat "$b_session/metrics_export_port")" <<<"$targets" &&
  ok "the head's Prometheus discovery file names every node's /metrics" || bad "the discovery file" "$(cat "$RAY_TMPDIR/prom_metrics_service_discovery.json" 2>&1)"
rpc_bad=""
for t in $targets; do
  grep -qE '^ray_grpc_server_req_process_time_ms_count\{Method="NodePeer.grpc_server.NodeState"\} [1-9]' \
    <<<"$(curl -s -H "Authorization: Bearer $token" "http://$t/metrics")" || rpc_bad+=" $t"
done
[ -z "$rpc_bad" ] && grep -qE '^ray_grpc_server_req_finished\{Method="ControlStore.grpc_server.GetAllNodes"\} [1-9]' <<<"$all_metrics" &&
  ok "every node's /metrics has its gRPC servers' latencies (ray_grpc_server_req_process_time_ms)" || bad "gRPC metrics" "no NodeState latency at:$rpc_bad; $(grep '^ray_grpc' <<<"$all_metrics" | head)"
# ray logs: the head's files, every node's, and the end of one on node B.
out="$("$ray" logs 2>&1)"
grep -q "^=== node [0-9a-f]* (127.0.0.1) ===" <<<"$out" && grep -qE '^job-driver-envjob\.log +[0-9]+' <<<"$out" && ok "ray logs lists the head's log files" || bad "ray logs" "$out"
out="$("$ray" logs cluster 'worker-*.out' 2>&1)"
[ "$(grep -c '^=== node' <<<"$out")" = 2 ] && grep -qE '^worker-[0-9a-f]+\.out' <<<"$out" && ok "ray logs cluster GLOB lists every node's" || bad "ray logs cluster" "$out"
b_file="$("$ray" logs --node-ip 127.0.0.2 'worker-*.err' 2>&1 | sed -n 's/^\(worker-[0-9a-f]*\.err\) .*/\1/p' | head -1)"
out="$("$ray" logs "$b_file" --node-ip 127.0.0.2 --tail 5 2>&1)"; rc=$?
[ $rc -eq 0 ] && [ -n "$b_file" ] && [ "$(wc -l <<<"$out")" -le 5 ] && ok "ray logs FILE --node-ip --tail" || bad "ray logs FILE" "file '$b_file' rc=$rc $out"
out="$("$ray" logs ../../etc/passwd 2>&1)"; rc=$?
[ $rc -ne 0 ] && ! grep -q "root:" <<<"$out" && ok "ray logs refuses a path out of the logs" || bad "ray logs path" "$out"
out="$("$ray" get actors 0123 2>&1)"; rc=$?
[ $rc -ne 0 ] && grep -q "has no actor with actor_id 0123" <<<"$out" && ok "ray get of an unknown id fails clearly" || bad "ray get unknown" "$out"

# 2c. Ray's state API over HTTP on the dashboard's port, closed as the job API is; and the
#     dashboard's page in a real browser (Debian's Chromium, headless), while a job holds an
#     object of 8 MiB in the head's store and a placement group. The browser signs in with the token, checks what the
#     page shows, and keeps a screenshot.
out="$(curl -s -H "Authorization: Bearer $token" "$api/api/v0/actors?filter_keys=name&filter_predicates=%3D&filter_values=keeper")"
grep -q '"result":true' <<<"$out" && grep -q '"class_name":"Keeper"' <<<"$out" && grep -q '"num_filtered":1' <<<"$out" &&
  ok "GET /api/v0/actors with Ray's filters" || bad "GET /api/v0/actors" "$out"
c=$(curl -s -o /dev/null -w '%{http_code}' "$api/api/v0/nodes")
[ "$c" = 401 ] && ok "the state API without the token is 401" || bad "the state API without the token" "$c"
release="$work/release-holdjob"
rm -f "$release" # (a work dir used before may hold one)
(cd "$proj" && "$ray" job submit --no-wait --working-dir . --submission-id holdjob \
  --runtime-env-json '{"env_vars": {"RELEASE_FILE": "'"$release"'"}}' -- ./jobdriver hold) >"$work/hold.out" 2>&1 ||
  bad "submit the holding job" "$(tail -5 "$work/hold.out")"
for _ in $(seq 1 300); do "$ray" job logs holdjob 2>/dev/null | grep -q '^holding' && break; sleep 0.2; done

# 2d. The objects the holding job refers to, in `ray list objects`, `ray memory`, `ray summary
#     objects` and /api/v0/objects: its 8 MiB put, a task's result, an actor call's result (which
#     only the driver knows) and a ref held only inside another object.
refs="$("$ray" job logs holdjob 2>/dev/null | sed -n 's/^refs //p')"
ref_of() { sed -n "s/.*$1=\([0-9a-f]*\).*/\1/p" <<<"$refs"; }
big="$(ref_of big)"; taskref="$(ref_of task)"; callref="$(ref_of call)"; inner="$(ref_of inner)"
object_is() { # id, then the fields its one record must have
  local id="$1" out; shift
  out="$("$ray" list objects --filter "object_id=$id" --format json 2>&1)"
  [ "$(grep -c '"object_id"' <<<"$out")" = 1 ] || { echo "$out"; return 1; }
  for f in "$@"; do grep -q "$f" <<<"$out" || { echo "$out"; return 1; }; done
}
out="$(object_is "$big" '"object_size": 83886[0-9][0-9]' '"reference_type": "LOCAL_REFERENCE"' '"task_status": "NIL"' '"type": "DRIVER"' '"ip": "127.0.0.1"')" &&
  ok "ray list objects: the job's 8 MiB put, held by its driver" || bad "ray list objects (the put)" "refs '$refs' $out"
out="$(object_is "$taskref" '"task_status": "FINISHED"' '"reference_type": "LOCAL_REFERENCE"')" &&
  ok "ray list objects: a finished task's result" || bad "ray list objects (a task's result)" "$out"
out="$(object_is "$callref" '"task_status": "FINISHED"' '"reference_type": "LOCAL_REFERENCE"' '"object_size": [1-9]')" &&
  ok "ray list objects: an actor call's result that only its caller has" || bad "ray list objects (an actor call's result)" "$out"
out="$(object_is "$inner" '"reference_type": "CAPTURED_IN_OBJECT"' '"local_ref_count": 0')" &&
  ok "ray list objects: a ref held only inside another object" || bad "ray list objects (a captured ref)" "$out"
out="$("$ray" memory --units MB 2>&1)"
grep -q -- '--- Summary for node address: 127.0.0.1 ---' <<<"$out" && grep -qE "Driver +disabled +- +8\.38[0-9]* MB +LOCAL_REFERENCE +$big" <<<"$out" &&
  grep -qE 'Plasma memory usage (8|9|1[0-9]) MiB' <<<"$out" && ok "ray memory groups the references by node, with sizes and the stores' use" || bad "ray memory" "$out"
out="$("$ray" memory --sort-by colour 2>&1)"; rc=$?
[ $rc -ne 0 ] && grep -q "sort-by is PID, OBJECT_SIZE or REFERENCE_TYPE" <<<"$out" && ok "ray memory refuses a bad --sort-by" || bad "ray memory --sort-by colour" "rc=$rc $out"
out="$("$ray" summary objects 2>&1)"
grep -qE '^0 +disabled +[0-9]+ +8\.[0-9]+ ' <<<"$out" && grep -q 'CAPTURED_IN_OBJECT: 1' <<<"$out" && ok "ray summary objects" || bad "ray summary objects" "$out"
out="$(curl -s -H "Authorization: Bearer $token" "$api/api/v0/objects?filter_keys=object_id&filter_predicates=%3D&filter_values=$callref")"
grep -q '"num_filtered":1' <<<"$out" && grep -q '"task_status":"FINISHED"' <<<"$out" && ok "GET /api/v0/objects" || bad "GET /api/v0/objects" "$out"
out_dir="${GORAY_TEST_OUTPUT:-$(cd "$here/../.." && pwd)/test-output}"
mkdir -p "$out_dir"
shot="$out_dir/dashboard.png"
rm -f "$shot"
DASHBOARD_URL="$api" RAY_TOKEN="$token" SCREENSHOT="$shot" RELEASE_FILE="$release" NODE_IPS="127.0.0.1 127.0.0.2" \
  DONE_JOB=envjob LOG_LINE="task greeting hello from the job" HELD_JOB=holdjob HELD_BYTES=$((8 << 20)) \
  ACTOR=keeper DEAD_ACTOR=gone GROUP=pghold FUNC=Greeting \
  timeout 180 node "$here/browser/dashboard.js" >"$work/browser.out" 2>&1
rc=$?
cat "$work/browser.out"
passed=$((passed + $(grep -c '^PASS ' "$work/browser.out")))
failed=$((failed + $(grep -c '^FAIL ' "$work/browser.out")))
[ $rc -ne 0 ] && ! grep -q '^FAIL ' "$work/browser.out" && bad "the browser test ran" "exit $rc: $(tail -5 "$work/browser.out")"
[ -s "$shot" ] && ok "the browser kept a screenshot of the dashboard ($shot)" || bad "the dashboard's screenshot" "no $shot"
touch "$release"

# 3. The address: the job API's URL, the cluster's address (the head tells where its API is),
#    RAY_API_SERVER_ADDRESS before RAY_ADDRESS.
for a in "$api" "$addr"; do
  out="$(RAY_ADDRESS="$a" "$ray" job list 2>&1)"
  grep -qE '^envjob +SUCCEEDED' <<<"$out" && ok "ray job list with RAY_ADDRESS=$a" || bad "ray job list with RAY_ADDRESS=$a" "$out"
done
out="$(RAY_API_SERVER_ADDRESS="$api" RAY_ADDRESS=127.0.0.1:1 "$ray" job list 2>&1)"
grep -qE '^envjob ' <<<"$out" && ok "RAY_API_SERVER_ADDRESS wins over RAY_ADDRESS" || bad "RAY_API_SERVER_ADDRESS" "$out"

# 4. A failing job: FAILED, its exit code and last words in the message, a failing exit code.
timeout 60 "$ray" job submit --submission-id failing -- 'echo last words; exit 3' >"$work/fail.out" 2>&1
rc=$?
out="$(curl -sS -H "Authorization: Bearer $token" "$api/api/jobs/failing")"
if [ $rc -ne 0 ] && grep -q '"status":"FAILED"' <<<"$out" && grep -q '"driver_exit_code":3' <<<"$out" && grep -q 'last words' <<<"$out"; then
  ok "a failing job is FAILED with its exit code and log"
else
  bad "failing job" "rc=$rc $out"
fi

# 4b. Entrypoint resources are reserved on the head while the entrypoint runs; more than the
#     head has fails the job clearly.
out="$(timeout 60 "$ray" job submit --submission-id reservedjob --entrypoint-num-cpus=1 -- 'echo reserved' 2>&1)"; rc=$?
[ $rc -eq 0 ] && grep -qx reserved <<<"$out" && ok "a job with entrypoint_num_cpus runs" || bad "entrypoint_num_cpus" "rc=$rc $(tail -5 <<<"$out")"
out="$(timeout 60 "$ray" job submit --submission-id toobig --entrypoint-num-cpus=64 -- true 2>&1)"; rc=$?
st="$("$ray" job status toobig 2>&1)"
[ $rc -ne 0 ] && grep -q "FAILED" <<<"$st" && grep -q "does not have" <<<"$st" && ok "a job asking for more CPUs than the head has fails clearly" || bad "too many entrypoint CPUs" "rc=$rc $st"
"$ray" job delete toobig >/dev/null 2>&1

# 5. Stop: a running job (and what it started) ends, STOPPED; delete forgets it.
"$ray" job submit --no-wait --submission-id sleeper -- 'sleep 300 & echo started; wait' >"$work/sleeper.out" 2>&1
for _ in $(seq 100); do "$ray" job logs sleeper 2>/dev/null | grep -q started && break; sleep 0.1; done
[ -n "$(sleepers)" ] && ok "the job's command runs" || bad "the job's command runs" "no sleep 300 among $(leftovers)"
out="$("$ray" job delete sleeper 2>&1)"
[[ "$out" == *"400"*"stop it first"* ]] && ok "a running job cannot be deleted" || bad "delete a running job" "$out"
out="$(timeout 30 "$ray" job stop sleeper 2>&1)"
grep -qx "Job 'sleeper' is STOPPED" <<<"$out" && ok "ray job stop" || bad "ray job stop" "$out"
left=""
for _ in $(seq 50); do left="$(sleepers)"; [ -z "$left" ] && break; sleep 0.1; done
[ -z "$left" ] && ok "a stopped job's processes are gone" || bad "a stopped job's processes" "still running: $left"
out="$("$ray" job delete sleeper 2>&1)" && ! "$ray" job status sleeper >/dev/null 2>&1 && ok "ray job delete" || bad "ray job delete" "$out"

# 6. Closed by default: no token 401, a wrong one 403 (and nothing runs), a browser's request
#    of another origin 403 even with the cookie, a DNS-rebound Host 403; the health check open.
code() { curl -s -o "$work/body" -w '%{http_code}' "$@"; }
marker="$work/pwned"
body='{"entrypoint": "touch '"$marker"'"}'
c=$(code -X POST -d "$body" "$api/api/jobs/")
[ "$c" = 401 ] && ok "a submission without the token is 401" || bad "submission without token" "$c $(cat "$work/body")"
c=$(code -X POST -H "Authorization: Bearer wrong-token-0123456789" -d "$body" "$api/api/jobs/")
[ "$c" = 403 ] && ok "a submission with a wrong token is 403" || bad "submission with a wrong token" "$c"
c=$(code -X POST -H "Origin: http://evil.example" -b "ray-authentication-token=$token" -d "$body" "$api/api/jobs/")
[ "$c" = 403 ] && ok "a cross-origin submission is 403, cookie or not" || bad "cross-origin submission" "$c"
c=$(code -H "Host: evil.example" -H "Authorization: Bearer $token" "$api/api/jobs/")
[ "$c" = 403 ] && ok "a DNS-rebound Host is 403" || bad "rebound Host" "$c"
c=$(code "$api/api/gcs_healthz")
[ "$c" = 200 ] && ok "the health check needs no token" || bad "health check" "$c"
sleep 0.5
[ ! -e "$marker" ] && ok "no refused submission ran" || bad "refused submissions" "$marker exists"
out="$(RAY_AUTH_TOKEN=wrong-token-0123456789 "$ray" job list 2>&1)"; rc=$?
[ $rc -ne 0 ] && grep -qE "403|refused this process's token" <<<"$out" && ok "ray job with a wrong token fails clearly" || bad "ray job with a wrong token" "rc=$rc $out"

# 7. Bad input: an unknown job, malformed JSON, an unknown field, a bad working_dir.
out="$("$ray" job status nosuchjob 2>&1)"; rc=$?
[ $rc -ne 0 ] && grep -q "404" <<<"$out" && grep -q "nosuchjob does not exist" <<<"$out" && ok "an unknown job is 404" || bad "unknown job" "$out"
c=$(code -X POST -H "Authorization: Bearer $token" -d '{"entrypoint": ' "$api/api/jobs/")
[ "$c" = 400 ] && ok "malformed JSON is 400" || bad "malformed JSON" "$c"
c=$(code -X POST -H "Authorization: Bearer $token" -d '{"entrypoint": "true", "entrypoint_num_cpu": 1}' "$api/api/jobs/")
[ "$c" = 400 ] && grep -q entrypoint_num_cpu "$work/body" && ok "an unknown field is 400" || bad "unknown field" "$c $(cat "$work/body")"
out="$("$ray" job submit --working-dir "$work/nowhere" -- true 2>&1)"; rc=$?
[ $rc -ne 0 ] && grep -q "nowhere" <<<"$out" && ok "a missing working_dir fails clearly" || bad "missing working_dir" "$out"
out="$("$ray" job list 2>&1)"
[ "$(grep -cE '^(envjob|actorjob|holdjob|failing|reservedjob) ' <<<"$out")" = 5 ] && [ "$(grep -vc '^SUBMISSION_ID' <<<"$out")" = 5 ] && ok "refused requests left no jobs" || bad "jobs after refusals" "$out"

# 7b. A driver that joins the cluster on its own (not submitted) is a job of type DRIVER in the
#     job lists: RUNNING while it is attached, SUCCEEDED once it left; its pid and node's IP in
#     driver_info. The submitted jobs show their drivers' job ids.
rm -f "$work/release-direct" "$work/direct.out" # (a work dir used before may hold them)
(cd "$proj" && RAY_ADDRESS="$addr" RELEASE_FILE="$work/release-direct" timeout 60 ./jobdriver hold >"$work/direct.out" 2>&1) &
direct=$!
for _ in $(seq 1 300); do grep -q '^holding' "$work/direct.out" && break; sleep 0.2; done
out="$("$ray" list jobs --filter type=DRIVER --format json 2>&1)"
grep -q '"status": "RUNNING"' <<<"$out" && grep -q '"entrypoint": "./jobdriver hold"' <<<"$out" && grep -q '"node_ip_address": "127.0.0.1"' <<<"$out" &&
  grep -qE '"pid": "[1-9][0-9]*"' <<<"$out" && ok "ray list jobs: a driver that joined on its own is a RUNNING job of type DRIVER" || bad "a running DRIVER job" "$out"
touch "$work/release-direct"
wait $direct
driver_job="$(grep -oE '"job_id": "[0-9a-f]{8}"' <<<"$out" | head -1 | grep -oE '[0-9a-f]{8}')"
out="$(curl -s -H "Authorization: Bearer $token" "$api/api/jobs/$driver_job")"
grep -q '"type":"DRIVER"' <<<"$out" && grep -q '"status":"SUCCEEDED"' <<<"$out" && grep -qE '"end_time":[1-9]' <<<"$out" &&
  ok "GET /api/jobs/JOB_ID: the driver left, its job SUCCEEDED" || bad "the ended DRIVER job" "job '$driver_job': $out"
out="$("$ray" get jobs "$driver_job" 2>&1)"
grep -q '"type": "DRIVER"' <<<"$out" && ok "ray get jobs JOB_ID" || bad "ray get jobs JOB_ID" "$out"
out="$("$ray" job list 2>&1)"
grep -qE "^- +SUCCEEDED .* DRIVER +$driver_job +\./jobdriver hold" <<<"$out" && grep -qE '^envjob +SUCCEEDED .* SUBMISSION +[0-9a-f]{8} ' <<<"$out" &&
  ok "ray job list shows the driver's job and the submitted jobs' job ids" || bad "ray job list with a driver" "$out"

# 8. ray stop ends a job that still runs, and leaves nothing behind.
"$ray" job submit --no-wait --submission-id forever -- 'sleep 300' >/dev/null 2>&1
sleep 0.5
"$ray" stop >"$work/stop.out" 2>&1
sleep 0.5
left="$(leftovers)"
[ -z "$left" ] && ok "ray stop ends the jobs and leaves no processes" || bad "ray stop" "left: $(for p in $left; do tr '\0' ' ' </proc/$p/cmdline; echo; done)"

# 9. --include-dashboard=false: no job API, and `ray job` says so.
if "$ray" start --head --port=0 --include-dashboard=false --num-cpus=1 --object-store-memory=$((1 << 28)) >"$work/head2.out" 2>&1; then
  out="$("$ray" job list 2>&1)"; rc=$?
  [ $rc -ne 0 ] && grep -q "serves no job API" <<<"$out" && ok "a head without the dashboard says it serves no job API" || bad "--include-dashboard=false" "$out"
  out="$("$ray" list jobs 2>&1)"; rc=$?
  [ $rc -eq 0 ] && grep -q "Total: 0" <<<"$out" && ok "ray list jobs without a job API lists the control store's drivers' jobs" || bad "ray list jobs without a job API" "rc=$rc $out"
else
  bad "ray start --include-dashboard=false" "$(tail -5 "$work/head2.out")"
fi
"$ray" stop >/dev/null 2>&1
finish
