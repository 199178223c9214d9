# What the end-to-end suites share (sourced): counting results, and finding the processes a
# suite left behind. The suite sets passed=0 failed=0 before.

# ok NAME: a test passed. bad NAME WHY: a test failed, and why.
ok() { echo "PASS $1"; passed=$((passed + 1)); }
bad() { echo "FAIL $1: $2"; failed=$((failed + 1)); }

# goray_leftovers EXES LINE...: the processes other than this shell whose environment holds one of the
# LINEs (e.g. RAY_TMPDIR=...) and whose program's name matches the extended regex EXES (the
# suite's shell helpers have the same environment: only goray programs count).
goray_leftovers() {
  local exes="$1"; shift
  local want=()
  for line in "$@"; do want+=(-e "$line"); done
  for e in /proc/[0-9]*/environ; do
    p="${e#/proc/}"; p="${p%/environ}"
    [ "$p" = "$$" ] && continue
    if { tr '\0' '\n' < "$e"; } 2>/dev/null | grep -qxF "${want[@]}"; then
      exe="$(readlink "/proc/$p/exe" 2>/dev/null)"
      if [[ "$(basename "$exe")" =~ ^($exes)$ ]]; then echo "$p"; fi
    fi
  done
}
