#!/usr/bin/env bash
# End-to-end tests of the `ray` command and the project template it writes: the seed's workflow
# (`ray cpp --generate-bazel-project-template-to DIR && cd DIR && bash run.sh`) with Bazel offline
# and with CMake, plus find_package and pkg-config against dist/.
# Usage: tests/e2e/template.sh DIST_DIR WORK_DIR. Last line: "template: N passed, N failed".
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
dist="$(cd "${1:?dist dir}" && pwd)"
work="${2:?work dir}"
mkdir -p "$work" && work="$(cd "$work" && pwd)"
export RAY_TMPDIR="$work/ray"
mkdir -p "$RAY_TMPDIR"
ray="$dist/bin/ray"
passed=0
failed=0
. "$here/lib.sh"

example_ok() { # output: has every line of the example
  for line in "put_get_result = 100" "task_result = 3" "task_result2 = 13" "actor_task_result = 3" "actor_task_result2 = 6"; do
    grep -qx "$line" <<<"$1" || return 1
  done
}

# The CLI: version, help, errors.
out="$("$ray" --version 2>&1)" && grep -q "^ray, version" <<<"$out" && ok "ray --version" || bad "ray --version" "$out"
out="$("$ray" cpp --help 2>&1)" && grep -q -- "--generate-bazel-project-template-to" <<<"$out" && ok "ray cpp --help" || bad "ray cpp --help" "$out"
out="$("$ray" cpp 2>&1)"; rc=$?
[ $rc -ne 0 ] && grep -q "needs --show-library-path" <<<"$out" && ok "ray cpp without a flag fails clearly" || bad "ray cpp without a flag" "rc=$rc $out"
out="$("$ray" cpp --generate-bazel-project-template-to /proc/goray-nowhere 2>&1)"; rc=$?
[ $rc -ne 0 ] && grep -q "goray-nowhere" <<<"$out" && ok "unwritable DIR fails clearly" || bad "unwritable DIR" "rc=$rc $out"
mkdir -p "$work/foreign" && echo keep > "$work/foreign/precious.txt"
out="$("$ray" cpp --generate-bazel-project-template-to "$work/foreign" 2>&1)"; rc=$?
[ $rc -ne 0 ] && [ -f "$work/foreign/precious.txt" ] && ok "a foreign DIR is not replaced" || bad "foreign DIR" "rc=$rc $out"
out="$("$ray" cpp --show-library-path 2>&1)"
grep -qx "Ray C++ include path $dist/include" <<<"$out" && grep -qx "Ray C++ library path $dist/lib" <<<"$out" && ok "ray cpp --show-library-path" || bad "--show-library-path" "$out"

# The seed's workflow.
tpl="$work/ray-template"
out="$("$ray" cpp --generate-bazel-project-template-to "$tpl" 2>&1)"
if grep -qx "    cd $tpl && bash run.sh" <<<"$out" && [ -f "$tpl/WORKSPACE" ] && [ -f "$tpl/BUILD.bazel" ] && [ -f "$tpl/thirdparty/lib/libray_api.so" ] &&
  [ -f "$tpl/thirdparty/include/msgpack.hpp" ] && [ -f "$tpl/thirdparty/include/nlohmann/json.hpp" ]; then
  ok "template generated"
else
  bad "template generated" "$out"
fi
out="$(cd "$tpl" && timeout 900 bash run.sh 2>&1)"; rc=$?
if [ $rc -eq 0 ] && example_ok "$out"; then ok "template builds offline with Bazel and runs"; else bad "template with Bazel" "rc=$rc $(tail -15 <<<"$out")"; fi
if [ -f "$tpl/bazel-bin/example" ]; then
  rm -f "$tpl/bazel-bin/example.so"
  out="$(cd "$tpl" && LD_LIBRARY_PATH="$tpl/thirdparty/lib" timeout 120 bazel-bin/example 2>&1)"; rc=$?
  if [ $rc -eq 0 ] && example_ok "$out"; then ok "template runs without example.so (driver as worker)"; else bad "without example.so" "rc=$rc $(tail -5 <<<"$out")"; fi
fi
abi_symbols="$(nm -C "$tpl/bazel-bin/example" 2>/dev/null | grep -c "__cxx11")"
if [ "${abi_symbols:-0}" -gt 0 ]; then
  ok "template built with the default C++11 ABI (no _GLIBCXX_USE_CXX11_ABI=0)"
else
  bad "default ABI" "no __cxx11 symbols in bazel-bin/example"
fi
out="$(cd "$tpl" && timeout 600 bash run.sh --cmake 2>&1)"; rc=$?
if [ $rc -eq 0 ] && example_ok "$out"; then ok "template builds with CMake and runs"; else bad "template with CMake" "rc=$rc $(tail -15 <<<"$out")"; fi

# The seed's last step: the template submitted as a job to a cluster on this machine (its token,
# kept in the suite's directory, presented by `ray job`), followed to SUCCEEDED.
export RAY_AUTH_TOKEN_PATH="$work/auth_token"
trap '"$ray" stop --force >/dev/null 2>&1' EXIT
if "$ray" start --head --port=0 --dashboard-port=0 --num-cpus=2 --object-store-memory=$((1 << 29)) >"$work/head.out" 2>&1; then
  out="$(cd "$tpl" && timeout 900 "$ray" job submit --working-dir . -- bash run.sh 2>&1)"; rc=$?
  if [ $rc -eq 0 ] && example_ok "$out" && grep -q "^Job 'raysubmit_[A-Za-z0-9]*' succeeded" <<<"$out"; then
    ok "ray job submit --working-dir . -- bash run.sh runs the template on the cluster"
  else
    bad "the template as a job" "rc=$rc $(tail -15 <<<"$out")"
  fi
  "$ray" stop >/dev/null 2>&1
else
  bad "ray start --head for the template's job" "$(tail -5 "$work/head.out")"
fi
unset RAY_AUTH_TOKEN_PATH

# find_package(ray) and pkg-config against dist/.
mkdir -p "$work/fp"
cp "$here/sample.cc" "$work/fp/sample.cc"
cat > "$work/fp/CMakeLists.txt" <<'CMAKE'
cmake_minimum_required(VERSION 3.13)
project(fp CXX)
find_package(ray 0.1 CONFIG REQUIRED)
add_executable(sample sample.cc)
target_link_libraries(sample PRIVATE ray::api)
set_target_properties(sample PROPERTIES BUILD_RPATH "${ray_INCLUDE_DIRS}/../lib")
CMAKE
if (cd "$work/fp" && cmake -S . -B build -DCMAKE_PREFIX_PATH="$dist" >/dev/null && cmake --build build >/dev/null 2>&1); then
  out="$(timeout 60 "$work/fp/build/sample" 2>&1)"
  grep -q "thirteen 13" <<<"$out" && ok "find_package(ray) builds and runs a program" || bad "find_package program" "$out"
else
  bad "find_package(ray)" "cmake failed"
fi
if g++ -std=c++17 "$here/sample.cc" -o "$work/pc_sample" $(PKG_CONFIG_PATH="$dist/lib/pkgconfig" pkg-config --cflags --libs ray); then
  out="$(timeout 60 "$work/pc_sample" 2>&1)"
  grep -q "thirteen 13" <<<"$out" && ok "pkg-config ray builds and runs a program" || bad "pkg-config program" "$out"
else
  bad "pkg-config ray" "compile failed"
fi

echo "template: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
