#!/usr/bin/env bash
# Builds goray (dist/) and runs example.cc on an embedded single-node cluster.
set -euo pipefail
cd "$(dirname "$0")"
bash scripts/install-deps.sh
export PATH="$PATH:/usr/local/go/bin"
make -s all
mkdir -p build
# Like Ray's template, the example is built twice: the driver program and example.so, the
# library the workers load its RAY_REMOTE functions from.
g++ -std=c++17 -O2 -Idist/include example.cc -o build/example -Ldist/lib -lray_api -Wl,-rpath,"$PWD/dist/lib"
g++ -std=c++17 -O2 -fPIC -shared -Idist/include example.cc -o build/example.so -Ldist/lib -lray_api -Wl,-rpath,"$PWD/dist/lib"
exec build/example "$@"
