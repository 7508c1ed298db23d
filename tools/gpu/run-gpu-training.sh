#!/usr/bin/env bash
# LeanSeg on a GPU machine with no Java and no network: the gpu-tagged tests, then `leanseg train --device cuda`
# runs on the built-in synthetic data (the default config and longer runs that show the learning curve).
# Bundle: tools/gpu/make-cuda-bundle.sh <checkout>/.bundle-cuda, then copy this file to .bundle-cuda/train.sh;
# device-tool call: run(command="bash .bundle-cuda/train.sh", carry=[".bundle-cuda"], timeout_s=600)
set -u
B=$(cd "$(dirname "$0")" && pwd)
OUT=${OUT:-$B/out}; mkdir -p "$OUT"
exec > >(tee -a "$OUT/gpu-train.log") 2>&1
sec() { echo; echo "===== $* ($(date -u +%H:%M:%S))"; }
sec system; nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv
mkdir -p /tmp/ls-jre && tar -xJf "$B/jre.tar.xz" -C /tmp/ls-jre
JAVA=/tmp/ls-jre/jre/bin/java
. "$B/gpu-env.sh"
cd "$B"
if [ "${SKIP_TESTS:-0}" = 0 ]; then
sec "gpu tests"
timeout 200 "$JAVA" -Xmx16g -cp "$B/junit-console.jar:$B/classes:$B/test-classes:$B/lib/*" org.junit.platform.console.ConsoleLauncher \
  execute --scan-classpath "$B/test-classes" --include-tag gpu --details=summary --disable-banner --disable-ansi-colors \
  --reports-dir "$OUT/junit"
echo "junit exit code: $?"
fi
LS=("$JAVA" -Xmx24g -cp "$B/classes:$B/lib/*" org.leanseg.cli.Main)
sec "train --device cuda, default config"
( time timeout 150 "${LS[@]}" train --device cuda --set work_dir=/tmp/wd --set name=default --set train.log_interval=100 ) 2>&1 | grep -v '^\s*$' | tail -40
cp /tmp/wd/default/metrics.jsonl "$OUT/default-metrics.jsonl" 2>/dev/null
sec "train --device cuda, 64x64 batch 16, 4000 iterations"
( time timeout 300 "${LS[@]}" train --device cuda --set work_dir=/tmp/wd --set name=long64 --set data.synthetic.image_size=64 \
    --set data.crop_size=64 --set train.batch=16 --set train.lr=0.05 --set train.iters=4000 --set train.warmup_iters=30 \
    --set train.eval_interval=500 --set train.checkpoint_interval=4000 --set train.log_interval=500 ) 2>&1 | grep -E 'mIoU|iter |real|device|done' | tail -30
cp /tmp/wd/long64/metrics.jsonl "$OUT/long64-metrics.jsonl" 2>/dev/null
sec done
