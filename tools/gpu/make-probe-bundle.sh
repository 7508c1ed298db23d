#!/usr/bin/env bash
# Builds the offline GPU probe bundle into <repo>/.bundle/ (ignored by git; carried to the GPU machine
# with the device tool's `carry: [".bundle"]`). Needs here: JDK 17 (javac, jlink + jmods), Maven with
# access to Maven Central, nvcc (13.0), strip, xz. The GPU machine needs no Java and no network.
#
#   .bundle/jre.tar.xz      jlink'd JDK 17 runtime (stripped), unpacked by run-probe.sh to /tmp
#   .bundle/lib/*.jar       org.bytedeco:javacpp:1.5.13 + cuda:13.1-9.19-1.5.13, each + linux-x86_64
#   .bundle/probe/          GpuProbe classes (package probe)
#   .bundle/saxpy.fatbin    sm_80/86/89/90 + compute_90 PTX
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
B="$ROOT/.bundle"
JAVA_HOME=${JAVA_HOME:-$(dirname "$(dirname "$(readlink -f "$(command -v javac)")")")}
MODULES=java.base,java.logging,java.management,jdk.management,jdk.unsupported,java.xml,java.desktop,jdk.jfr,java.sql

"$JAVA_HOME/bin/java" -version 2>&1 | head -1 | grep -q '"17\.' || { echo "need JDK 17 at JAVA_HOME=$JAVA_HOME" >&2; exit 1; }
rm -rf "$B"; mkdir -p "$B/lib" "$B/probe"

echo "== jars (Maven Central)"
(cd "$HERE/probe" && mvn -q -B package -Dbundle.lib="$B/lib")
ls -l "$B/lib"

echo "== jlink runtime"
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
"$JAVA_HOME/bin/jlink" --module-path "$JAVA_HOME/jmods" --add-modules "$MODULES" \
  --strip-debug --no-man-pages --no-header-files --compress=0 --output "$T/jre"
find "$T/jre" -name '*.so' -exec strip --strip-unneeded {} +
"$T/jre/bin/java" -version
(cd "$T" && tar -cJf "$B/jre.tar.xz" jre)

echo "== GpuProbe"
"$JAVA_HOME/bin/javac" --release 17 -cp "$B/lib/javacpp-1.5.13.jar:$B/lib/cuda-13.1-9.19-1.5.13.jar" \
  -d "$B/probe" "$HERE/probe/GpuProbe.java"

echo "== saxpy.fatbin"
nvcc --version | tail -1
nvcc -fatbin -gencode arch=compute_80,code=sm_80 -gencode arch=compute_86,code=sm_86 \
  -gencode arch=compute_89,code=sm_89 -gencode arch=compute_90,code=sm_90 \
  -gencode arch=compute_90,code=compute_90 -o "$B/saxpy.fatbin" "$HERE/probe/saxpy.cu"

echo "== bundle"
(cd "$B" && find . -type f -exec ls -l {} + | awk '{print $5, $9}')
du -sh "$B"
