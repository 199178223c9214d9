#!/usr/bin/env bash
# End-to-end tests: build user programs against dist/ the way a user does and run them.
# Usage: tests/e2e/run.sh DIST_DIR WORK_DIR. Last line: "e2e: N passed, N failed".
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
dist="$(cd "${1:?dist dir}" && pwd)"
work="${2:?work dir}"
mkdir -p "$work" && work="$(cd "$work" && pwd)"
export RAY_TMPDIR="$work/ray"
mkdir -p "$RAY_TMPDIR"
passed=0
failed=0
. "$here/lib.sh"
pids_to_kill=()
cleanup() {
  for p in "${pids_to_kill[@]}"; do kill -9 "$p" 2>/dev/null; done
  # Any process still carrying this run's RAY_TMPDIR is a leftover of a failed test.
  for p in $(leftovers); do kill -9 "$p" 2>/dev/null; done
}
trap cleanup EXIT


leftovers() { goray_leftovers 'default_worker|example|sample|sleeper' "RAY_TMPDIR=$RAY_TMPDIR"; }

build() { # name source [extra flags]: builds the way the README tells users to
  g++ -std=c++17 -O1 -I"$dist/include" "$2" -o "$work/$1" -L"$dist/lib" -lray_api -Wl,-rpath,"$dist/lib" "${@:3}"
}

expect_output() { # test-name expected-substring command...
  local name="$1" want="$2"; shift 2
  local out
  out="$(timeout 60 "$@" 2>&1)"
  local rc=$?
  if [ $rc -eq 0 ] && grep -qF -- "$want" <<<"$out"; then ok "$name"; else bad "$name" "exit $rc, output: $(tail -5 <<<"$out")"; fi
}

# 1. example.cc with example.so beside it: workers load the library (Ray's layout).
mkdir -p "$work/with_so" "$work/no_so"
if build with_so/example "$repo/example.cc" && g++ -std=c++17 -O1 -fPIC -shared -I"$dist/include" "$repo/example.cc" -o "$work/with_so/example.so" -L"$dist/lib" -lray_api -Wl,-rpath,"$dist/lib"; then
  out="$(timeout 60 "$work/with_so/example" 2>&1)"
  if grep -qx "put_get_result = 100" <<<"$out" && grep -qx "task_result = 3" <<<"$out" && grep -qx "task_result2 = 13" <<<"$out" \
    && grep -qx "actor_task_result = 3" <<<"$out" && grep -qx "actor_task_result2 = 6" <<<"$out"; then
    ok "example with example.so"
  else
    bad "example with example.so" "$out"
  fi
  if grep -q "loaded.*example.so\|example.so" "$RAY_TMPDIR"/session_latest/logs/worker-*.err 2>/dev/null; then
    ok "workers loaded example.so"
  else
    bad "workers loaded example.so" "no worker log mentions example.so"
  fi
else
  bad "build example" "compile failed"
fi

# 2. The same program with no library: workers run the driver binary itself.
if build no_so/example "$repo/example.cc"; then
  expect_output "example without a library (driver re-executed as worker)" "actor_task_result2 = 6" "$work/no_so/example"
fi

# 3. The issue's sample, compiled exactly as documented, on the embedded node and in local mode.
if build sample "$here/sample.cc"; then
  expect_output "sample on the embedded node" "thirteen 13" "$work/sample"
  expect_output "sample in local mode" "thirteen 13" env SAMPLE_LOCAL_MODE=1 "$work/sample"
fi

# 4. Sessions and logs like Ray's.
latest="$RAY_TMPDIR/session_latest"
if [ -L "$latest" ] && [ -d "$latest/logs" ] && ls "$latest"/logs/worker-*.out >/dev/null 2>&1 && ls "$latest"/logs/*.INFO* >/dev/null 2>&1; then
  ok "session_latest with driver and worker logs"
else
  bad "session logs" "$(ls -la "$latest" "$latest/logs" 2>&1 | head)"
fi

# 5. A driver killed with SIGKILL leaves no process behind.
if build sleeper "$here/sleeper.cc"; then
  "$work/sleeper" > "$work/sleeper.out" 2>&1 &
  spid=$!
  pids_to_kill+=("$spid")
  for _ in $(seq 100); do grep -q ready "$work/sleeper.out" && break; sleep 0.1; done
  before="$(leftovers | wc -l)"
  kill -9 "$spid"; wait "$spid" 2>/dev/null
  for _ in $(seq 50); do [ -z "$(leftovers)" ] && break; sleep 0.1; done
  left="$(leftovers)"
  if [ "$before" -ge 2 ] && [ -z "$left" ]; then
    ok "SIGKILL of the driver leaves no worker ($before processes before)"
  else
    bad "SIGKILL of the driver" "before: $before processes, left: $left"
  fi
  # Its shared-memory object store cannot be removed by the killed driver: the next node removes it.
  arena="$(ls /dev/shm/goray_session_*_"$spid"_objects 2>/dev/null)"
  if [ -d /dev/shm ] && [ -n "$arena" ] && [ -x "$work/no_so/example" ]; then
    timeout 60 "$work/no_so/example" > /dev/null 2>&1
    if [ ! -e "$arena" ]; then
      ok "the next ray::Init removes the killed driver's object store ($arena)"
    else
      bad "stale object store" "$arena is still there after another driver started"
      rm -f "$arena"
    fi
  fi
fi

echo "e2e: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
