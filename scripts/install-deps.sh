#!/usr/bin/env bash
# Installs what a fresh Debian machine lacks to build and test goray: a C++ compiler, make,
# msgpack-c, nlohmann/json and googletest headers, cmake, pkg-config, curl (the job API's tests),
# Chromium, Node.js and npm (the dashboard's browser test, whose playwright-core comes from the npm
# registry at the version its package-lock.json gives),
# Go (Debian's golang-go when no Go is on the machine), and for the Bazel build Debian's Bazel 4.2.3 (bazel-bootstrap),
# the Go 1.19 SDK (golang-1.19-go), bazel-skylib and bazel-platforms.
# Go modules come through the module proxy when the Go build first needs them.
set -euo pipefail

export PATH="$PATH:/usr/local/go/bin"
missing=()
command -v g++ >/dev/null || missing+=(g++)
command -v make >/dev/null || missing+=(make)
command -v go >/dev/null || missing+=(golang-go)
[ -f /usr/include/msgpack.hpp ] || missing+=(libmsgpack-cxx-dev)
[ -f /usr/include/nlohmann/json.hpp ] || missing+=(nlohmann-json3-dev)
[ -f /usr/include/gtest/gtest.h ] || missing+=(libgtest-dev)
command -v cmake >/dev/null || missing+=(cmake)
command -v pkg-config >/dev/null || missing+=(pkg-config)
command -v curl >/dev/null || missing+=(curl)
command -v chromium >/dev/null || missing+=(chromium)
command -v npm >/dev/null || missing+=(npm)
[ -f /usr/share/bazel/A-server.jar ] || missing+=(bazel-bootstrap)
[ -x /usr/lib/go-1.19/bin/go ] || missing+=(golang-1.19-go)
[ -f /usr/share/bazel/tools/skylib/WORKSPACE ] || missing+=(bazel-skylib)
[ -f /usr/share/bazel/tools/platforms/WORKSPACE ] || missing+=(bazel-platforms)
if [ "${#missing[@]}" -gt 0 ]; then
  echo "installing: ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# The browser test's driver (tests/e2e/browser), from the npm registry.
browser="$(dirname "$0")/../tests/e2e/browser"
if [ ! -f "$browser/node_modules/playwright-core/package.json" ]; then
  (cd "$browser" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
fi
