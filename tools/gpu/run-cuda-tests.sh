#!/usr/bin/env bash
# LeanSeg CUDA check on a GPU machine with no Java and no network, from the folder make-cuda-bundle.sh
# prepares (copied there as run.sh): unpacks the offline bundle and its gpu-tests tarball, runs the
# gpu-tagged tests (bin/leanseg-gpu-tests), a first-look step timing, and a 2-iteration train smoke run.
# Device-tool call:  run(command="bash .bundle-cuda/run.sh", carry=[".bundle-cuda"], timeout_s=...)
# Logs and JUnit XML under $OUT (the device tool's folder when set, else <bundle>/out). BENCH=0 skips the timing.
set -u
B=$(cd "$(dirname "$0")" && pwd)
OUT=${OUT:-$B/out}; mkdir -p "$OUT"
exec > >(tee -a "$OUT/gpu-run.log") 2>&1
sec() { echo; echo "===== $* ($(date -u +%H:%M:%S))"; }
U=/tmp/leanseg-bundle; rm -rf "$U"; mkdir -p "$U"
tar -xzf "$B/leanseg-bundle.tar.gz" -C "$U" && tar -xzf "$B/leanseg-gpu-tests.tar.gz" -C "$U"
L=$U/leanseg
sec "gpu tests"
timeout 480 "$L/bin/leanseg-gpu-tests" "$OUT"
echo "gpu tests exit code: $?"
. "$L/bin/leanseg-env.sh"
if [ "${BENCH:-1}" != 0 ]; then
  sec "step timing (CudaStepBench, first look)"
  for cfg in "deeplabv3plus_mobilenetv2 2 512 3 10 false" "deeplabv3plus_mobilenetv2 2 512 3 10 true" "deeplabv3plus_mobilenetv2 8 512 2 5 true"; do
    timeout 150 "$LEANSEG_JAVA" -Xmx24g -cp "$L/tests/test-classes:$L/lib/*" org.leanseg.backend.cuda.CudaStepBench $cfg
    echo "bench exit code: $?"
  done
fi
sec "train smoke (bin/leanseg, --device auto)"
(cd /tmp && timeout 120 "$L/bin/leanseg" train --device auto --set train.iters=2 --set train.warmup_iters=0)
echo "train exit code: $?"
sec done
