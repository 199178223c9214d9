#!/usr/bin/env bash
# The Bazel build's part of ./test.sh: `bazel build //...` and `bazel test //...` with Debian's
# Bazel 4.2.3, offline but for the Go module proxy (see WORKSPACE), then a check that the BUILD
# files are in step with the Go code (gazelle would change nothing). Prints one line per check and
# a last line "bazel: N passed, N failed". Usage: scripts/bazel-test.sh WORKDIR
set -uo pipefail
cd "$(dirname "$0")/.."
work="${1:?usage: bazel-test.sh WORKDIR}"
mkdir -p "$work"
unset USE_BAZEL_VERSION  # Debian's wrapper would take another Bazel from it
bazel_cmd=(bazel --nosystem_rc --nohome_rc)
# The sessions of the programs the tests and the example run (their logs) go to WORKDIR/ray,
# instead of /tmp/ray.
ray_tmp="$work/ray"
mkdir -p "$ray_tmp"
passed=0
failed=0
check() { # check NAME COMMAND...: runs the command, its output in WORKDIR/NAME.log
  local name="$1"; shift
  if "$@" > "$work/$name.log" 2>&1; then
    echo "PASS $name"
    passed=$((passed + 1))
  else
    echo "FAIL $name"
    grep -E "ERROR|FAIL|error" "$work/$name.log" | head -40
    tail -20 "$work/$name.log"
    failed=$((failed + 1))
  fi
}

check build "${bazel_cmd[@]}" build //...
# Each Go test target counts as one check (bazel test prints one line per target).
"${bazel_cmd[@]}" test --test_env=RAY_TMPDIR="$ray_tmp" //... > "$work/test.log" 2>&1
test_rc=$?
t_passed=$(grep -cE '^//[^ ]+ +(\(cached\) )?PASSED' "$work/test.log")
t_failed=$(grep -cE '^//[^ ]+ +(\(cached\) )?(FAILED|TIMEOUT|NO STATUS)' "$work/test.log")
grep -E '^//[^ ]+ +(\(cached\) )?(PASSED|FAILED|TIMEOUT|NO STATUS)' "$work/test.log"
if [ "$test_rc" -ne 0 ] && [ "$t_failed" -eq 0 ]; then
  t_failed=1
  tail -40 "$work/test.log"
fi
for log in $(sed -n -E 's#^//([^ :]+):([^ ]+) +FAILED.*#\1/\2#p' "$work/test.log"); do
  echo "== bazel-testlogs/$log/test.log"
  tail -60 "bazel-testlogs/$log/test.log"
done
passed=$((passed + t_passed))
failed=$((failed + t_failed))

# The example as a user runs it: `bazel run //:example` prints the results of example.cc.
if RAY_TMPDIR="$ray_tmp" "${bazel_cmd[@]}" run //:example > "$work/example.log" 2> "$work/example.err" &&
  grep -q '^actor_task_result2 = 6$' "$work/example.log"; then
  echo "PASS bazel run //:example"
  passed=$((passed + 1))
else
  echo "FAIL bazel run //:example"
  tail -20 "$work/example.log" "$work/example.err"
  failed=$((failed + 1))
fi

# gazelle in step: running it changes no BUILD file.
snapshot() { find . -name BUILD.bazel -not -path './bazel-*' -not -path './template/*' -not -path './dist/*' -print0 | sort -z | xargs -0 md5sum; }
before=$(snapshot)
if "${bazel_cmd[@]}" run //:gazelle > "$work/gazelle.log" 2>&1 && [ "$(snapshot)" == "$before" ]; then
  echo "PASS gazelle leaves the BUILD files as they are"
  passed=$((passed + 1))
else
  echo "FAIL gazelle leaves the BUILD files as they are (run: bazel run //:gazelle, and commit)"
  diff <(echo "$before") <(snapshot) | head -20
  tail -20 "$work/gazelle.log"
  failed=$((failed + 1))
fi

"${bazel_cmd[@]}" shutdown > /dev/null 2>&1 || true  # leave no Bazel server behind
echo "bazel: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
