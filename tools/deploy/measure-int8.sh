#!/usr/bin/env bash
# Int8 against fp32 on trained models (issue 13): mIoU on the same validation set, file size and
# ONNX Runtime CPU latency, for the default model and a full-width MobileNetV2. Trains both first
# (minutes to hours on a CPU), so run it by hand, not in CI. Usage: tools/deploy/measure-int8.sh [OUT_DIR]
# DEFAULT_CKPT=... FULL_CKPT=... (checkpoints of the two models, e.g. the distillation runs' student
# and teacher) skip the training; JAR=... picks the jar.
set -euo pipefail
OUT=${1:-work_dirs/int8}
JAR=${JAR:-target/leanseg.jar}
mkdir -p "$OUT"
[ -f "$JAR" ] || mvn -B -q -DskipTests package
run() { echo "+ $*"; java -jar "$JAR" "$@"; }
for model in default full; do
  if [ "$model" = default ]; then sets=(--set name=int8_default --set work_dir="$OUT"); else
    sets=(--set name=int8_full --set work_dir="$OUT" --set model.width=1.0); fi
  given=$([ "$model" = default ] && echo "${DEFAULT_CKPT:-}" || echo "${FULL_CKPT:-}")
  if [ -n "$given" ]; then ckpt=$given; else
    run train "${sets[@]}"
    ckpt="$OUT/int8_$model/best.safetensors"
  fi
  size=$(java -jar "$JAR" train --print-config "${sets[@]}" | awk '/image_size:/{getline h; getline w; gsub(/[ -]/,"",h); gsub(/[ -]/,"",w); print h "x" w; exit}')
  run export --checkpoint "$ckpt" "${sets[@]}" --out "$OUT/$model.onnx"
  for method in minmax percentile; do
    run quantize --checkpoint "$ckpt" "${sets[@]}" --calibration 100 --method "$method" --out "$OUT/$model-int8-$method.onnx"
  done
  run eval --checkpoint "$ckpt" "${sets[@]}" --out "$OUT/$model-leanseg.eval.json"
  for f in "$model" "$model-int8-minmax" "$model-int8-percentile"; do
    run eval --engine onnxruntime --checkpoint "$OUT/$f.onnx" "${sets[@]}" --out "$OUT/$f.eval.json"
    run benchmark --engine onnxruntime --checkpoint "$OUT/$f.onnx" "${sets[@]}" --size "$size" --images 500 --warmup 20
  done
  ls -l "$OUT"/$model*.onnx
done
grep -H '"mIoU"' "$OUT"/*.eval.json
