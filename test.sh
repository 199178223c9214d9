#!/usr/bin/env bash
# Runs every test of goray: the Go unit tests (with -race), the C++ gtest suites (local mode,
# the embedded node with and without a user library, AddressSanitizer), the end-to-end tests, the
# cluster tests (several node processes on loopback addresses) and the job tests (jobs submitted
# to such a cluster through its job API).
# The last line is "N passed, N failed" over all of them; the exit code is non-zero on any failure.
set -uo pipefail
cd "$(dirname "$0")"
bash scripts/install-deps.sh || { echo "0 passed, 1 failed"; exit 1; }
export PATH="$PATH:/usr/local/go/bin"

work="$(mktemp -d /tmp/goray-test.XXXXXX)"
# The tests' own temporary files (among them the log files glog writes for test binaries and for
# the ray commands they run) go to a directory removed at the end, so a run leaves nothing in /tmp.
# Its path is short: tests make unix sockets under it. (Bazel keeps its own.)
tmp="$(mktemp -d /tmp/gt.XXXXXX)"
chmod 1777 "$tmp" # (as /tmp: tests run programs as another user from there)
trap 'rm -rf "$work" "$tmp"' EXIT
export TMPDIR="$tmp"
total_passed=0
total_failed=0
add() { total_passed=$((total_passed + $1)); total_failed=$((total_failed + $2)); }

echo "== build"
if ! make -s all; then
  echo "build failed"
  echo "0 passed, 1 failed"
  exit 1
fi

echo "== Go (go vet, go test -race)"
go_start=$SECONDS
(cd go && go vet ./... && go test -race -count=1 -v ./...) > "$work/go.log" 2>&1
go_rc=$?
go_passed=$(grep -c -- '^\s*--- PASS' "$work/go.log")
go_failed=$(grep -c -- '^\s*--- FAIL' "$work/go.log")
if [ $go_rc -ne 0 ] && [ "$go_failed" -eq 0 ]; then go_failed=1; fi
grep -E '^(ok|FAIL|---)|^\s+--- FAIL' "$work/go.log" | grep -v -- '--- PASS' || true
if [ $go_rc -ne 0 ]; then
  # The whole output of each failed test (from its RUN line to its FAIL line), then the log's end.
  for t in $(sed -n -E 's/^--- FAIL: ([^ ]+).*/\1/p' "$work/go.log" | sort -u); do
    echo "== output of $t"
    awk -v t="$t" '$0 == "=== RUN   " t {on = 1} on {print} on && index($0, "--- FAIL: " t " ") == 1 {on = 0}' "$work/go.log" | tail -200
  done
  tail -40 "$work/go.log"
fi
echo "go: $go_passed passed, $go_failed failed"
echo "(go took $((SECONDS - go_start)) s)"
add "$go_passed" "$go_failed"

# run_suite NAME COMMAND...: runs a suite whose last line is "NAME: N passed, N failed" and adds
# its counts (a suite that printed no such line counts as one failure).
run_suite() {
  local name="$1" start=$SECONDS; shift
  echo "== $name"
  "$@" 2>&1 | tee "$work/$name.log"
  echo "($name took $((SECONDS - start)) s)"
  local line
  line=$(grep -E "^$name: [0-9]+ passed, [0-9]+ failed" "$work/$name.log" | tail -1)
  if [ -n "$line" ]; then
    add "$(sed -E 's/.*: ([0-9]+) passed.*/\1/' <<<"$line")" "$(sed -E 's/.*, ([0-9]+) failed.*/\1/' <<<"$line")"
  else
    echo "$name: printed no summary line"
    add 0 1
  fi
}
TMPDIR=/tmp run_suite bazel bash scripts/bazel-test.sh "$work/bazel"
run_suite cpp bash cpp/test/run_cpp_tests.sh dist "$work/cpp"
run_suite e2e bash tests/e2e/run.sh dist "$work/e2e"
run_suite cluster bash tests/e2e/cluster.sh dist "$work/cluster"
run_suite jobs bash tests/e2e/jobs.sh dist "$work/jobs"
run_suite template bash tests/e2e/template.sh dist "$work/template"

echo "(the whole run took $SECONDS s)"
echo "$total_passed passed, $total_failed failed"
[ "$total_failed" -eq 0 ]
