#!/usr/bin/env bash
# Prepares the device-tool carry folder for a GPU check from the offline bundle (src/main/bundle):
#   tools/gpu/make-cuda-bundle.sh DEST      (DEST ignored by git, e.g. <checkout>/.bundle-cuda, see .gitignore)
# then, in one device call:  run(command="bash .bundle-cuda/run.sh", carry=[".bundle-cuda"], timeout_s=...)
# Needs here: JDK 17 (jlink), Maven, nvcc (for the fatbin). Contents: leanseg-bundle.tar.gz (jlink'd Java 17,
# app + dependency jars with the fatbin, bin/leanseg), leanseg-gpu-tests.tar.gz (JUnit console, test classes,
# shared/oracle, bin/leanseg-gpu-tests), run.sh (= run-cuda-tests.sh). About 45 MB.
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
du -sh "$B"
