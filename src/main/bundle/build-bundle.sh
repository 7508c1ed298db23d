#!/usr/bin/env bash
# Builds LeanSeg's offline bundle for a Linux x86-64 machine with no Java and no network (GPU.md "A GPU
# machine with no Java and no network"). Run by `mvn -B -Pbundle -DskipTests package` (exec-maven-plugin,
# after maven-dependency-plugin copied the runtime jars and the JUnit console launcher into WORK):
#   build-bundle.sh TARGET_DIR APP_JAR JAVA_HOME VERSION
# Outputs, each unpacking into leanseg/:
#   TARGET_DIR/leanseg-bundle.tar.gz     runtime/ (jlink'd Java 17), lib/ (the app jar with the fatbin, its
#                                        dependency jars, CUDA presets for linux-x86_64 only), bin/leanseg
#   TARGET_DIR/leanseg-gpu-tests.tar.gz  tests/ (JUnit console launcher, test classes, shared/oracle when
#                                        found), bin/leanseg-gpu-tests (runs the gpu-tagged tests)
# Fails when the bundle exceeds 60 MiB. BundleTest checks the tarball's contents.
set -euo pipefail
TARGET=${1:?usage: build-bundle.sh TARGET_DIR APP_JAR JAVA_HOME VERSION}
APP_JAR=${2:?app jar}
JHOME=${3:?JAVA_HOME with jlink}
VERSION=${4:?version}
HERE=$(cd "$(dirname "$0")" && pwd)
BASEDIR=$(cd "$HERE/../../.." && pwd)
WORK=$TARGET/bundle-work
MAX_BYTES=$((60 * 1024 * 1024))
# What the app and its jars need (jdeps: java.desktop for ImageIO, jdk.unsupported for JavaCPP, java.sql and
# java.xml for Jackson), plus GPU.md's checked list (logging, management, JFR for profiling).
MODULES=java.base,java.logging,java.management,jdk.management,jdk.unsupported,java.xml,java.desktop,java.sql,jdk.jfr
JLINK=$JHOME/bin/jlink
[ -x "$JLINK" ] || JLINK=$(command -v jlink || true)
[ -n "$JLINK" ] || { echo "[bundle] no jlink (a JDK 17 is needed to build the bundle)" >&2; exit 1; }
[ -d "$WORK/lib" ] || { echo "[bundle] $WORK/lib missing: run through mvn -Pbundle package" >&2; exit 1; }

R=$WORK/root/leanseg
rm -rf "$WORK/root"; mkdir -p "$R/bin" "$R/lib"
# --compress=0: the gzip of the tarball packs the plain jimage tighter (24.5 MB) than jlink's zip plus gzip (30.6 MB)
if [ ! -x "$WORK/runtime/bin/java" ] || [ "$(cat "$WORK/runtime.modules" 2>/dev/null)" != "$MODULES $JLINK" ]; then
  rm -rf "$WORK/runtime"
  "$JLINK" --add-modules "$MODULES" --strip-debug --no-header-files --no-man-pages --compress=0 --output "$WORK/runtime"
  if command -v strip >/dev/null; then find "$WORK/runtime" -name '*.so' -exec strip --strip-unneeded {} +; fi
  echo "$MODULES $JLINK" > "$WORK/runtime.modules"
fi
cp -a "$WORK/runtime" "$R/runtime"
cp "$APP_JAR" "$R/lib/leanseg.jar"
cp "$WORK"/lib/*.jar "$R/lib/"
if ls "$R/lib" | grep -E -- '-(linux-(arm64|ppc64le|armhf)|macosx-|windows-|android-|ios-)' >&2; then
  echo "[bundle] jars for other platforms in lib/ (above): only linux-x86_64 natives belong here" >&2; exit 1
fi
cp "$HERE"/bin/leanseg "$HERE"/bin/leanseg-env.sh "$R/bin/"
chmod +x "$R/bin/leanseg"
cat > "$R/README.txt" <<TXT
LeanSeg $VERSION offline bundle for Linux x86-64: bin/leanseg runs it with the Java 17 runtime in runtime/.
  bin/leanseg --version
  bin/leanseg train --device auto --set train.iters=2
CUDA 13 / cuDNN 9 libraries are found in LEANSEG_CUDA_LIBS, the nvidia/*/lib folders of a Python venv
(LEANSEG_PYTHON_VENV, or the python3 on PATH), or the system CUDA; without them --device auto uses the CPU.
LEANSEG_PRINT_ENV=1 shows what was found. GPU tests: unpack leanseg-gpu-tests.tar.gz here too, then
bin/leanseg-gpu-tests.
TXT
tar -C "$WORK/root" -czf "$TARGET/leanseg-bundle.tar.gz" leanseg
BYTES=$(stat -c %s "$TARGET/leanseg-bundle.tar.gz")
echo "[bundle] $TARGET/leanseg-bundle.tar.gz: $BYTES bytes ($((BYTES / 1024 / 1024)) MiB; runtime $(du -sm "$R/runtime" | cut -f1) MiB and lib $(du -sm "$R/lib" | cut -f1) MiB unpacked)"
if [ "$BYTES" -gt "$MAX_BYTES" ]; then
  echo "[bundle] larger than 60 MiB" >&2; exit 1
fi

# the optional second tarball: the gpu tests
if [ ! -d "$TARGET/test-classes" ]; then
  echo "[bundle] no test classes (-Dmaven.test.skip?): leanseg-gpu-tests.tar.gz not built"; rm -f "$TARGET/leanseg-gpu-tests.tar.gz"; exit 0
fi
T=$WORK/tests-root/leanseg
rm -rf "$WORK/tests-root"; mkdir -p "$T/bin" "$T/tests"
cp "$WORK"/junit/junit-platform-console-standalone-*.jar "$T/tests/junit-console.jar"
cp -r "$TARGET/test-classes" "$T/tests/test-classes"
ORACLE=${LEANSEG_ORACLE_DIR:-}
if [ -z "$ORACLE" ]; then
  d=$BASEDIR
  while [ "$d" != / ]; do [ -d "$d/shared/oracle" ] && { ORACLE=$d/shared/oracle; break; }; d=$(dirname "$d"); done
fi
if [ -n "$ORACLE" ] && ls "$ORACLE"/*.safetensors >/dev/null 2>&1; then
  mkdir -p "$T/tests/shared/oracle"; cp "$ORACLE"/*.safetensors "$T/tests/shared/oracle/"
else
  echo "[bundle] no shared/oracle found (LEANSEG_ORACLE_DIR): the oracle tests will skip on the GPU machine"
fi
cp "$HERE/bin/leanseg-gpu-tests" "$T/bin/"; chmod +x "$T/bin/leanseg-gpu-tests"
tar -C "$WORK/tests-root" -czf "$TARGET/leanseg-gpu-tests.tar.gz" leanseg
echo "[bundle] $TARGET/leanseg-gpu-tests.tar.gz: $(stat -c %s "$TARGET/leanseg-gpu-tests.tar.gz") bytes"
