#!/usr/bin/env bash
# Builds and runs goray's C++ test suites.
#
#   cpp/test/run_cpp_tests.sh DIST_DIR BUILD_DIR
#
# DIST_DIR holds include/, lib/libray_api.so and bin/default_worker (what `make` produces).
# Binaries go to BUILD_DIR/with_so (next to libtest_functions.so: default_worker loads it),
# BUILD_DIR/no_so (workers re-execute the test binary itself) and BUILD_DIR/asan (AddressSanitizer
# build, no .so next to it). Every suite runs in local mode, in node mode from with_so/ and in
# node mode from no_so/, and the ASan variant in local and node mode when ASan works with the Go
# runtime. The last line printed is "cpp: N passed, N failed"; the exit status is non-zero when
# anything failed.
#
# Environment: CXX (default g++), JOBS (parallel compiles, default 2), SUITES (space-separated
# subset), GORAY_SKIP_ASAN=1 (skip the ASan variant), GTEST_FILTER (passed through to gtest).
set -u
set -o pipefail

if [ $# -ne 2 ]; then
  echo "usage: $0 DIST_DIR BUILD_DIR" >&2
  exit 2
fi
DIST=$(realpath -e "$1") || { echo "no such DIST_DIR: $1" >&2; exit 2; }
mkdir -p "$2"
BUILD=$(realpath -e "$2")
SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CXX=${CXX:-g++}
JOBS=${JOBS:-2}
SUITES=${SUITES:-"api_test remote_test config_test slow_function_test nested_test actor_test object_store_test placement_group_test metric_test"}
RUN_TIMEOUT=${RUN_TIMEOUT:-300}

for f in "$DIST/include/ray/api.h" "$DIST/lib/libray_api.so" "$DIST/bin/default_worker"; do
  [ -e "$f" ] || { echo "missing $f" >&2; echo "cpp: 0 passed, 1 failed"; exit 1; }
done

# Short paths: the runtime's unix socket paths live under RAY_TMPDIR (at most ~108 bytes).
WORK=$(mktemp -d /tmp/gct.XXXXXX)
RUN_NO=0
trap 'rm -rf "$WORK"' EXIT

TOTAL_PASSED=0
TOTAL_FAILED=0
SUMMARY=()

# ------------------------------------------------------------------------------------------ build
CXXFLAGS_COMMON="-std=c++17 -O1 -g -Wall -Wextra -Wno-unused-parameter -I$DIST/include -I$SRC"
LDLIBS="-L$DIST/lib -lray_api -Wl,-rpath,$DIST/lib -lgtest -lpthread"
ASAN_FLAGS="-fsanitize=address -fno-omit-frame-pointer"

# A generated Makefile gives parallel, incremental builds with header dependencies.
gen_makefile() {
  local mk=$1
  {
    echo "CXX := $CXX"
    echo "CXXFLAGS := $CXXFLAGS_COMMON"
    echo "LDLIBS := $LDLIBS"
    echo "ASAN := $ASAN_FLAGS"
    echo "B := $BUILD"
    echo "S := $SRC"
    echo ".DELETE_ON_ERROR:"
    echo "all: \$(B)/with_so/libtest_functions.so"
    echo "\$(B)/obj/%.o: \$(S)/%.cc | \$(B)/obj"
    echo "	\$(CXX) \$(CXXFLAGS) -fPIC -MMD -MP -c \$< -o \$@"
    echo "\$(B)/obj_asan/%.o: \$(S)/%.cc | \$(B)/obj_asan"
    echo "	\$(CXX) \$(CXXFLAGS) \$(ASAN) -MMD -MP -c \$< -o \$@"
    echo "\$(B)/obj \$(B)/obj_asan \$(B)/with_so \$(B)/no_so \$(B)/asan:"
    echo "	mkdir -p \$@"
    echo "\$(B)/with_so/libtest_functions.so: \$(B)/obj/remote_functions.o | \$(B)/with_so"
    echo "	\$(CXX) -shared -o \$@ \$^ -L$DIST/lib -lray_api -Wl,-rpath,$DIST/lib -lpthread"
    for s in $SUITES; do
      echo "all: \$(B)/with_so/$s \$(B)/no_so/$s"
      echo "asan: \$(B)/asan/$s"
      echo "\$(B)/with_so/$s: \$(B)/obj/$s.o \$(B)/obj/remote_functions.o \$(B)/obj/test_main.o | \$(B)/with_so"
      echo "	\$(CXX) -o \$@ \$^ \$(LDLIBS)"
      echo "\$(B)/no_so/$s: \$(B)/with_so/$s | \$(B)/no_so"
      echo "	cp \$< \$@"
      echo "\$(B)/asan/$s: \$(B)/obj_asan/$s.o \$(B)/obj_asan/remote_functions.o \$(B)/obj_asan/test_main.o | \$(B)/asan"
      echo "	\$(CXX) \$(ASAN) -o \$@ \$^ \$(LDLIBS)"
    done
    echo "-include \$(wildcard \$(B)/obj/*.d \$(B)/obj_asan/*.d)"
  } > "$mk"
}

gen_makefile "$BUILD/Makefile"
BUILD_START=$(date +%s)
echo "== building ($JOBS jobs) into $BUILD"
make -s -k -j"$JOBS" -f "$BUILD/Makefile" all > "$BUILD/build.log" 2>&1
BUILD_RC=$?
if [ $BUILD_RC -ne 0 ]; then
  echo "== build failed (see $BUILD/build.log):"
  grep -E "error|Error" "$BUILD/build.log" | head -30
fi
ASAN_BUILD_RC=1
if [ "${GORAY_SKIP_ASAN:-0}" != 1 ]; then
  make -s -k -j"$JOBS" -f "$BUILD/Makefile" asan > "$BUILD/build_asan.log" 2>&1
  ASAN_BUILD_RC=$?
  if [ $ASAN_BUILD_RC -ne 0 ]; then
    echo "== asan build failed (see $BUILD/build_asan.log):"
    grep -E "error|Error" "$BUILD/build_asan.log" | head -10
  fi
fi
echo "== build took $(( $(date +%s) - BUILD_START )) s"

# -------------------------------------------------------------------------------------------- run
# run_suite LABEL BINARY MODE [EXPECT_WORKER]: runs one binary, counts per-test results from
# gtest's output; tests the binary did not report (crash, timeout) count as failed.
run_suite() {
  local label=$1 bin=$2 mode=$3 expect=${4:-}
  local log="$BUILD/logs/${label//\//_}.log"
  mkdir -p "$BUILD/logs"
  if [ ! -x "$bin" ]; then
    echo "== $label: not built (counted as 1 failed)"
    TOTAL_FAILED=$((TOTAL_FAILED + 1))
    SUMMARY+=("$label: not built")
    return
  fi
  local filter=()
  [ -n "${GTEST_FILTER:-}" ] && filter=(--gtest_filter="$GTEST_FILTER")
  local total
  total=$(GORAY_TEST_MODE=$mode "$bin" --gtest_list_tests "${filter[@]}" 2>/dev/null | grep -c '^  ')
  RUN_NO=$((RUN_NO + 1))
  local tmp="$WORK/r$RUN_NO"
  mkdir -p "$tmp"
  local t0=$SECONDS
  (
    cd "$(dirname "$bin")" &&
    env TMPDIR="$tmp" RAY_TMPDIR="$tmp" GORAY_TEST_MODE="$mode" GORAY_TEST_EXPECT_WORKER="$expect" \
      ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1}" \
      timeout -k 10 "$RUN_TIMEOUT" "$bin" "${filter[@]}" --gtest_color=no
  ) > "$log" 2>&1
  local rc=$?
  local ok failed skipped missing
  ok=$(grep -cE '^\[       OK \] .* \([0-9]+ ms\)$' "$log")
  failed=$(grep -cE '^\[  FAILED  \] .* \([0-9]+ ms\)$' "$log")
  skipped=$(grep -cE '^\[  SKIPPED \] .* \([0-9]+ ms\)$' "$log")
  missing=$((total - ok - failed - skipped))
  [ $missing -lt 0 ] && missing=0
  local note=""
  if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
    note=" TIMEOUT after ${RUN_TIMEOUT}s"
  elif [ "$rc" -ne 0 ]; then
    note=" exit code $rc"
  fi
  if [ "$missing" -gt 0 ]; then
    note="$note, $missing unreported (counted failed)"
  elif [ "$rc" -ne 0 ] && [ "$failed" -eq 0 ]; then
    # Every test reported success but the binary failed (a crash or sanitizer report at exit).
    missing=1
    note="$note, all tests passed but the binary failed (counted as 1 failed)"
  fi
  local bad=$((failed + missing))
  TOTAL_PASSED=$((TOTAL_PASSED + ok))
  TOTAL_FAILED=$((TOTAL_FAILED + bad))
  local line
  line=$(printf '%-34s %3d passed %3d failed %3d skipped  %4ds%s' "$label" "$ok" "$bad" "$skipped" \
    $((SECONDS - t0)) "$note")
  SUMMARY+=("$line")
  echo "== $line"
  if [ $bad -gt 0 ]; then
    # Each failed test's whole output, from its RUN line to its FAILED line (at most 40 lines).
    awk '/^\[ RUN      \] /{n=0; delete buf} {buf[n++]=$0}
         /^\[  FAILED  \] .* \([0-9]+ ms\)$/{s=(n>40?n-40:0); for(i=s;i<n;i++) print buf[i]; n=0}' \
      "$log" | sed 's/^/     /'
    if [ $missing -gt 0 ]; then
      echo "     last lines of $log:"
      tail -n 15 "$log" | sed 's/^/       | /'
    fi
  fi
}

# ASan probe: the Go runtime in an ASan process. Runs the simplest test; on failure, say why.
ASAN_OK=0
if [ "${GORAY_SKIP_ASAN:-0}" = 1 ]; then
  echo "== asan: skipped (GORAY_SKIP_ASAN=1)"
elif [ $ASAN_BUILD_RC -ne 0 ] && [ ! -x "$BUILD/asan/api_test" ]; then
  echo "== asan: skipped: the ASan build failed (see $BUILD/build_asan.log)"
elif [ -x "$BUILD/asan/api_test" ]; then
  probe="$WORK/asan_probe"
  mkdir -p "$probe"
  (cd "$BUILD/asan" && env TMPDIR="$probe" RAY_TMPDIR="$probe" GORAY_TEST_MODE=local \
    ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1}" timeout -k 5 60 ./api_test \
    --gtest_filter='ApiTest.PutGetInt:ApiTest.TasksWithZeroToThreeArgs') > "$BUILD/asan_probe.log" 2>&1
  if [ $? -eq 0 ]; then
    ASAN_OK=1
  else
    why=$(grep -m1 -E 'AddressSanitizer|LeakSanitizer|Sanitizer|fatal error|panic|FAILED' \
      "$BUILD/asan_probe.log")
    echo "== asan: skipped: ASan does not work with the Go runtime in one process: ${why:-$(tail -n1 "$BUILD/asan_probe.log")} (see $BUILD/asan_probe.log)"
  fi
fi

for s in $SUITES; do
  run_suite "local/$s" "$BUILD/with_so/$s" local
done
for s in $SUITES; do
  run_suite "node_with_so/$s" "$BUILD/with_so/$s" node default_worker
done
for s in $SUITES; do
  run_suite "node_no_so/$s" "$BUILD/no_so/$s" node self
done
if [ $ASAN_OK -eq 1 ]; then
  for s in $SUITES; do
    run_suite "asan_local/$s" "$BUILD/asan/$s" local
  done
  for s in $SUITES; do
    run_suite "asan_node/$s" "$BUILD/asan/$s" node self
  done
fi

echo "== summary"
for l in "${SUMMARY[@]}"; do echo "   $l"; done
if [ $BUILD_RC -ne 0 ]; then
  TOTAL_FAILED=$((TOTAL_FAILED + 1))
  echo "   build errors (counted as 1 failed)"
fi
echo "cpp: $TOTAL_PASSED passed, $TOTAL_FAILED failed"
[ $TOTAL_FAILED -eq 0 ]
