#!/usr/bin/env bash
# Prepares the device-tool carry folder for a GPU check from the offline bundle (src/main/bundle):
#   tools/gpu/make-cuda-bundle.sh DEST      (DEST ignored by git, e.g. <checkout>/.bundle-cuda, see .gitignore)
# then, in one device call:  run(command="bash .bundle-cuda/run.sh", carry=[".bundle-cuda"], timeout_s=...)
# Needs here: JDK 17 (jlink), Maven, nvcc (for the fatbin). Contents: leanseg-bundle.tar.gz (jlink'd Java 17,
# app + dependency jars with the fatbin, bin/leanseg), leanseg-gpu-tests.tar.gz (JUnit console, test classes,
# shared/oracle, bin/leanseg-gpu-tests), run.sh (= run-cuda-tests.sh: profile, gpu tests, side-by-side timing
# first), pytorch_baseline.py, benchmarks/ (the side-by-side runner). Must stay <= 64 MiB (the device tool's carry limit); checked at the end.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
B=${1:?usage: make-cuda-bundle.sh DEST}
cd "$ROOT"
mvn -B -q -Pbundle -DskipTests package
ls target/classes/org/leanseg/backend/cuda/leanseg-kernels.fatbin >/dev/null   # needs nvcc
rm -rf "$B"; mkdir -p "$B"
cp target/leanseg-bundle.tar.gz target/leanseg-gpu-tests.tar.gz "$B/"
cp "$HERE/run-cuda-tests.sh" "$B/run.sh"
cp "$HERE/pytorch_baseline.py" "$B/"   # the PyTorch side of the side-by-side timing (run.sh, when torch is there)
# the one-command side-by-side runner (run.sh part 7) with the CPU runner's helpers and the PyTorch models it imports
mkdir -p "$B/benchmarks/gpu-vs-pytorch" "$B/benchmarks/cpu-vs-pytorch"
cp benchmarks/gpu-vs-pytorch/run.py benchmarks/gpu-vs-pytorch/torch_gpu_step.py "$B/benchmarks/gpu-vs-pytorch/"
cp benchmarks/cpu-vs-pytorch/run.py benchmarks/cpu-vs-pytorch/pytorch_models.py "$B/benchmarks/cpu-vs-pytorch/"
du -sh "$B"
SIZE=$(du -sb "$B" | cut -f1)
if [ "$SIZE" -gt $((64 * 1024 * 1024)) ]; then
  echo "make-cuda-bundle: $B is $SIZE bytes, over the 64 MiB carry limit" >&2
  exit 1
fi
