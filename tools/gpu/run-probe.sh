#!/usr/bin/env bash
# Runs the JavaCPP/CUDA probe from the offline bundle (.bundle/, see make-probe-bundle.sh) on a machine
# with no Java: unpacks the jlink'd runtime to $JRE_DIR (default /tmp/leanseg-jre), puts the pip-wheel
# CUDA/cuDNN libraries on LD_LIBRARY_PATH (gpu-env.sh) and runs probe.GpuProbe on saxpy.fatbin.
# Exit code is the probe's: 0 = GPU path OK, 2 = no usable GPU (CPU fallback), 1 = a GPU check failed.
# On a non-zero exit it runs the probe once more with JavaCPP's loader debug log on.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
B=${BUNDLE:-$ROOT/.bundle}
JRE_DIR=${JRE_DIR:-/tmp/leanseg-jre}
[ -f "$B/jre.tar.xz" ] || { echo "run-probe: no bundle at $B (run tools/gpu/make-probe-bundle.sh, carry .bundle)" >&2; exit 3; }
if [ ! -x "$JRE_DIR/jre/bin/java" ]; then
  mkdir -p "$JRE_DIR" && tar -xJf "$B/jre.tar.xz" -C "$JRE_DIR" || { echo "run-probe: unpack failed" >&2; exit 3; }
fi
JAVA="$JRE_DIR/jre/bin/java"
"$JAVA" -version 2>&1 | head -1
# shellcheck source=gpu-env.sh
. "$HERE/gpu-env.sh"
CP="$B/probe:$B/lib/*"
"$JAVA" -cp "$CP" probe.GpuProbe "$B/saxpy.fatbin"
rc=$?
echo "run-probe: GpuProbe exit code $rc"
if [ $rc -ne 0 ]; then
  echo "run-probe: re-running with -Dorg.bytedeco.javacpp.logger.debug=true"
  "$JAVA" -Dorg.bytedeco.javacpp.logger.debug=true -cp "$CP" probe.GpuProbe "$B/saxpy.fatbin" 2>&1 | tail -60
fi
exit $rc
