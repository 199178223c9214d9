#!/usr/bin/env bash
# goray's C++ project template (Ray's C++ API on goray): builds the example and runs it.
#
#   bash run.sh [ARGS...]          build with Bazel into bazel-bin/ and run bazel-bin/example ARGS...
#   bash run.sh --cmake [ARGS...]  build with CMake into build/ and run build/example ARGS...
#
# Both build the driver program `example` and `example.so` (the same code, which the worker
# processes load their RAY_REMOTE functions from) against thirdparty/include and
# thirdparty/lib/libray_api.so.
#
# Bazel: Debian's Bazel 4.2.3 (package bazel-bootstrap, installed with apt-get when missing),
# fully offline: .bazelrc sets its install base, and WORKSPACE points the repositories Bazel would
# otherwise download at the stand-ins in thirdparty/bazel/. The Bazel server is shut down after
# the build. CMake: installed with apt-get when missing.
set -euo pipefail
cd "$(dirname "$0")"

use_cmake=0
if [[ "${1:-}" == "--cmake" ]]; then
  use_cmake=1
  shift
fi

# apt-get install PACKAGE..., as root or with sudo; updates the package lists when needed.
# Its output goes to stderr, like the builds': stdout is the example's own.
apt_install() {
  local sudo=""
  if [[ "$(id -u)" != 0 ]]; then sudo=sudo; fi
  {
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y "$@" ||
      { $sudo apt-get update && $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y "$@"; }
  } >&2
}

if [[ "$use_cmake" == 1 ]]; then
  command -v cmake >/dev/null 2>&1 || apt_install cmake
  command -v c++ >/dev/null 2>&1 || apt_install g++
  # Build output goes to stderr (as Bazel's does): stdout is the example's own.
  cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >&2
  cmake --build build -j "$(nproc 2>/dev/null || echo 2)" >&2
  exec build/example "$@"
fi

# Debian's Bazel: the wrapper /usr/bin/bazel and the install base /usr/share/bazel (.bazelrc).
if ! command -v bazel >/dev/null 2>&1 || [[ ! -f /usr/share/bazel/A-server.jar ]]; then
  apt_install bazel-bootstrap
fi
command -v c++ >/dev/null 2>&1 || apt_install g++
# Debian's wrapper would take another Bazel version from USE_BAZEL_VERSION (or a .bazelversion
# file, which this project must not have): only its own Bazel 4.2.3 matches .bazelrc.
unset USE_BAZEL_VERSION
# --nosystem_rc/--nohome_rc: only this project's .bazelrc (read from the workspace root).
bazel_cmd=(bazel --nosystem_rc --nohome_rc)
build_rc=0
"${bazel_cmd[@]}" build //:example || build_rc=$?
# Leave no Bazel server running.
"${bazel_cmd[@]}" shutdown || true
if [[ "$build_rc" != 0 ]]; then exit "$build_rc"; fi

# libray_api.so finds default_worker beside itself: load it from thirdparty/lib.
export LD_LIBRARY_PATH="$PWD/thirdparty/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
exec bazel-bin/example "$@"
