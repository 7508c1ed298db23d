#!/usr/bin/env bash
# Builds the cpu backend's native library (src/main/cpp/cpu/*.cpp: oneDNN convolutions and our own
# kernels, OpenMP) against the oneDNN headers and library inside the org.bytedeco:dnnl linux-x86_64
# jar from the local Maven repository. At run time backend/cpu/CpuNative loads oneDNN through JavaCPP
# first, so this library binds to that very libdnnl.so.3 and libgomp.so.1.
# Run by the Maven build (exec-maven-plugin, process-resources); by hand:
#   bash src/main/cpp/cpu/build-cpu.sh target/classes/native/linux-x86_64/libleanseg_cpu.so DNNL_JAR [JAVA_HOME]
# Without g++, jni.h or the jar it prints one line and exits 0: the build succeeds and the cpu backend
# reports that its library is missing (device auto then falls back to the reference backend).
set -euo pipefail
OUT=${1:?usage: build-cpu.sh OUTPUT.so DNNL_JAR [JAVA_HOME]}
JAR=${2:?usage: build-cpu.sh OUTPUT.so DNNL_JAR [JAVA_HOME]}
JHOME=${3:-${JAVA_HOME:-$(dirname "$(dirname "$(readlink -f "$(command -v javac || echo /usr/bin/javac)")")")}}
DIR=$(cd "$(dirname "$0")" && pwd)
CXX=${CXX:-$(command -v g++ || true)}
skip() { echo "[cpu] $1: building without the cpu backend library (device cpu unavailable)"; rm -f "$OUT" "$(dirname "$OUT")/libleanseg_cpuenv.so"; exit 0; }
[ -n "$CXX" ] || skip "g++ not found"
[ -f "$JHOME/include/jni.h" ] || skip "no jni.h under $JHOME/include"
[ "$(uname -s)-$(uname -m)" = "Linux-x86_64" ] || skip "$(uname -s)-$(uname -m) is not linux-x86_64"
[ -f "$JAR" ] || skip "no oneDNN jar at $JAR"
ENV_OUT="$(dirname "$OUT")/libleanseg_cpuenv.so"
if [ -f "$OUT" ] && [ -f "$ENV_OUT" ] && [ -z "$(find "$DIR" \( -name '*.cpp' -o -name '*.h' -o -name '*.sh' \) -newer "$OUT")" ] && [ "$OUT" -nt "$JAR" ]; then
  echo "[cpu] $OUT is up to date"
  exit 0
fi
mkdir -p "$(dirname "$OUT")"
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
(cd "$T" && unzip -q -o "$JAR" 'org/bytedeco/dnnl/linux-x86_64/*')
D="$T/org/bytedeco/dnnl/linux-x86_64"
# x86-64-v3 (AVX2, FMA): the oldest x86 servers in use have it; CpuNative checks the CPU before loading.
"$CXX" -std=c++17 -O3 -march=x86-64-v3 -fopenmp -fPIC -shared -fno-fast-math -Wall -Wextra -Wno-unused-parameter \
  -I"$D/include" -I"$JHOME/include" -I"$JHOME/include/linux" -o "$T/lib.so" "$DIR"/*.cpp \
  -L"$D" -l:libdnnl.so.3 -Wl,--no-as-needed -l:libgomp.so.1
mv "$T/lib.so" "$OUT"
# the OpenMP settings library: libc only, loaded before oneDNN's OpenMP runtime (Note [OpenMP spinning])
"$CXX" -std=c++17 -O2 -fPIC -shared -Wall -I"$JHOME/include" -I"$JHOME/include/linux" -o "$T/env.so" "$DIR"/env/cpuenv.cpp
mv "$T/env.so" "$ENV_OUT"
echo "[cpu] $("$CXX" --version | head -1): $(ls "$DIR"/*.cpp | wc -l) .cpp -> $OUT ($(stat -c %s "$OUT") bytes)"
