#!/usr/bin/env bash
# Compiles the host build of the CUDA kernels' arithmetic (hostmath.cpp + src/main/cuda/*.cuh) into the JNI
# library that backend/cuda/HostMath loads; HostKernelMathTest checks it against the reference backend.
# Run by the Maven build (exec-maven-plugin, process-resources); by hand:
#   bash src/main/cpp/build-hostmath.sh target/classes/native/linux-x86_64/libleanseg_hostmath.so [JAVA_HOME]
# Without g++ (CXX unset and none on PATH) or jni.h it prints one line and exits 0: the build succeeds and
# the host-math tests skip with that reason. -ffp-contract=off: no fused multiply-adds, as the JVM.
set -euo pipefail
OUT=${1:?usage: build-hostmath.sh OUTPUT.so [JAVA_HOME]}
JHOME=${2:-${JAVA_HOME:-$(dirname "$(dirname "$(readlink -f "$(command -v javac || echo /usr/bin/javac)")")")}}
DIR=$(cd "$(dirname "$0")" && pwd)
CUDA_DIR=$(cd "$DIR/../cuda" && pwd)
CXX=${CXX:-$(command -v g++ || true)}
if [ -z "$CXX" ]; then
  echo "[hostmath] g++ not found: building without the host build of the kernel math (HostKernelMathTest will skip)"
  rm -f "$OUT"; exit 0
fi
if [ ! -f "$JHOME/include/jni.h" ]; then
  echo "[hostmath] no jni.h under $JHOME/include: building without the host build of the kernel math (HostKernelMathTest will skip)"
  rm -f "$OUT"; exit 0
fi
if [ "$(uname -s)-$(uname -m)" != "Linux-x86_64" ]; then
  echo "[hostmath] $(uname -s)-$(uname -m) is not linux-x86_64: building without the host build of the kernel math"
  rm -f "$OUT"; exit 0
fi
# up to date? (newer than every source, header and this script)
if [ -f "$OUT" ] && [ -z "$(find "$DIR" "$CUDA_DIR" \( -name '*.cpp' -o -name '*.h' -o -name '*.cuh' -o -name '*.sh' \) -newer "$OUT")" ]; then
  echo "[hostmath] $OUT is up to date"
  exit 0
fi
mkdir -p "$(dirname "$OUT")"
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
"$CXX" -std=c++17 -O2 -fPIC -shared -ffp-contract=off -fno-fast-math -fno-strict-aliasing -Wall -Wextra -Wno-unused-parameter \
  -I"$CUDA_DIR" -I"$JHOME/include" -I"$JHOME/include/linux" -o "$T/lib.so" "$DIR"/*.cpp
mv "$T/lib.so" "$OUT"
echo "[hostmath] $("$CXX" --version | head -1): $(ls "$DIR"/*.cpp | wc -l) .cpp -> $OUT ($(stat -c %s "$OUT") bytes)"
