#!/usr/bin/env bash
# Builds the offline bundle that runs LeanSeg's `gpu` tests and CudaStepBench on a GPU machine with no
# Java and no network:  tools/gpu/make-cuda-bundle.sh DEST   (DEST ignored by git, e.g. <checkout>/.bundle-cuda,
# listed in .git/info/exclude), then   run(command="bash .bundle-cuda/run.sh", carry=[".bundle-cuda"]).
# Needs here: JDK 17, Maven, nvcc (for the fatbin), and DEST/../.bundle/jre.tar.xz from make-probe-bundle.sh
# (or JRE_TAR=...). Contents: jre.tar.xz, lib/ (runtime jars), junit-console.jar (junit-platform-console-
# standalone 1.11.4), classes/ (with the fatbin), test-classes/, shared/oracle/, gpu-env.sh, run.sh. ~42 MB.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
B=${1:?usage: make-cuda-bundle.sh DEST}
JRE_TAR=${JRE_TAR:-$(dirname "$B")/.bundle/jre.tar.xz}
ORACLE=${ORACLE:-$ROOT/../shared/oracle}
cd "$ROOT"
mvn -B -q test-compile
ls target/classes/org/leanseg/backend/cuda/leanseg-kernels.fatbin >/dev/null   # needs nvcc
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
mvn -B -q dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$T/lib"
mvn -B -q dependency:copy -Dartifact=org.junit.platform:junit-platform-console-standalone:1.11.4 -DoutputDirectory="$T"
rm -rf "$B"; mkdir -p "$B/shared/oracle"
cp "$JRE_TAR" "$B/jre.tar.xz"
cp -r "$T/lib" "$B/lib"
cp "$T"/junit-platform-console-standalone-1.11.4.jar "$B/junit-console.jar"
cp -r target/classes "$B/classes"; cp -r target/test-classes "$B/test-classes"
cp "$ORACLE"/*.safetensors "$B/shared/oracle/" 2>/dev/null || echo "no oracle files at $ORACLE (CudaOracleTest will skip)"
cp "$HERE/gpu-env.sh" "$B/"; cp "$HERE/run-cuda-tests.sh" "$B/run.sh"
du -sh "$B"
