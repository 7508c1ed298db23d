#!/usr/bin/env bash
# LeanSeg CUDA backend check on a GPU machine with no Java and no network: the gpu-tagged tests and a
# first-look step timing, from the bundle that tools/gpu/make-cuda-bundle.sh builds (copied there as run.sh).
# Device-tool call:  run(command="bash .bundle-cuda/run.sh", carry=[".bundle-cuda"], timeout_s=...)
set -u
B=$(cd "$(dirname "$0")" && pwd)
OUT=${OUT:-$B/out}; mkdir -p "$OUT"
exec > >(tee -a "$OUT/gpu-run.log") 2>&1
sec() { echo; echo "===== $* ($(date -u +%H:%M:%S))"; }
sec system; date -u; nvidia-smi --query-gpu=name,driver_version,memory.total,memory.used --format=csv
mkdir -p /tmp/ls-jre && tar -xJf "$B/jre.tar.xz" -C /tmp/ls-jre
JAVA=/tmp/ls-jre/jre/bin/java; "$JAVA" -version 2>&1 | head -1
. "$B/gpu-env.sh"
CP="$B/classes:$B/lib/*"
cd "$B"   # OracleFiles finds shared/oracle from here
sec "probe (Backends auto)"
"$JAVA" -cp "$CP" org.leanseg.backend.Backends auto
sec "gpu tests"
# one JVM class path (a launcher-made class loader hides the JNI loading error from JavaCPP's Loader)
timeout 480 "$JAVA" -Xmx16g -cp "$B/junit-console.jar:$B/classes:$B/test-classes:$B/lib/*" org.junit.platform.console.ConsoleLauncher \
  execute --scan-classpath "$B/test-classes" --include-tag gpu --details=tree --disable-banner --disable-ansi-colors \
  --reports-dir "$OUT/junit" --config=junit.jupiter.execution.timeout.default=5m
echo "junit exit code: $?"
sec "step timing (CudaStepBench, first look)"
for cfg in "deeplabv3plus_mobilenetv2 2 512 3 10 false" "deeplabv3plus_mobilenetv2 2 512 3 10 true" "deeplabv3plus_mobilenetv2 8 512 2 5 true"; do
  timeout 150 "$JAVA" -Xmx24g -cp "$B/classes:$B/test-classes:$B/lib/*" org.leanseg.backend.cuda.CudaStepBench $cfg
  echo "bench exit code: $?"
done
sec done
