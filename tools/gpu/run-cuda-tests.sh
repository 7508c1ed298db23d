#!/usr/bin/env bash
# LeanSeg CUDA check on a GPU machine with no Java and no network, from the folder make-cuda-bundle.sh
# prepares (copied there as run.sh). Order (issue 15: items 1, 6 and 7 first):
#   1. per-op / per-stage profile on the GPU: `leanseg profile --device cuda` (MobileNetV2 512x512, batch 2 and
#      8; report.json / report.html under $OUT/profile-*; the terminal table shows the cuDNN algorithms chosen
#      and the CUDA context),
#   6. the gpu-tagged tests (fused and in-place parity cases, CudaTrainStepTest, the norm kernels, the oracle,
#      device used <= plan + context + allowance),
#   7. LeanSeg's step timing with whole-step graphs on and off (CudaStepBench), then, when a python3 with torch is on
#      PATH, the side-by-side runner benchmarks/gpu-vs-pytorch/run.py (copied into the bundle): LeanSeg and PyTorch
#      alternating in rounds on the issue's configurations, the largest batch per budget, one table and JSON,
#   then the kernel benchmarks (CudaNormBench: batch norm; CudaDwBench: depthwise, against cuDNN too) and a
#   2-iteration train smoke run.
# Device-tool call:  run(command="bash .bundle-cuda/run.sh", carry=[".bundle-cuda"], timeout_s=...)
# Logs and JUnit XML under $OUT (the device tool's folder when set, else <bundle>/out).
# PARTS picks parts (default "1 6 7 k t": profile, tests, side by side, kernel benchmark, train smoke). All of them
# take more than one 10-minute device call: call PARTS="1 6" then PARTS="7 k t". TORCH=0 skips PyTorch.
# With one call only (a session has 15 minutes of device time, start included): PARTS="6 7" TESTS_TIMEOUT=270
# SIDE_DEADLINE=150 ROUNDS=1 BUDGETS= fits 10 minutes: the tests, the graphs on/off timing, one round side by side
# (BUDGETS= skips the largest-batch search; the runner starts nothing new once SIDE_DEADLINE has passed).
set -u
B=$(cd "$(dirname "$0")" && pwd)
OUT=${OUT:-$B/out}; mkdir -p "$OUT"
exec > >(tee -a "$OUT/gpu-run.log") 2>&1
sec() { echo; echo "===== $* ($(date -u +%H:%M:%S))"; }
PARTS=" ${PARTS:-1 6 7 k t} "
want() { [[ "$PARTS" == *" $1 "* ]]; }
U=/tmp/leanseg-bundle; rm -rf "$U"; mkdir -p "$U"
tar -xzf "$B/leanseg-bundle.tar.gz" -C "$U" && tar -xzf "$B/leanseg-gpu-tests.tar.gz" -C "$U"
L=$U/leanseg
. "$L/bin/leanseg-env.sh"
JAVA_CP=("$LEANSEG_JAVA" -Xmx24g -cp "$L/tests/test-classes:$L/lib/*")

want 1 && sec "1. profile --device cuda (per stage, cuDNN algorithms, context)"
want 1 && for b in 2 8; do
  (cd /tmp && timeout 150 "$L/bin/leanseg" profile --device cuda --model deeplabv3plus_mobilenetv2 --size 512x512 --batch "$b" \
    --steps 3 --out "$OUT/profile-mobilenetv2-b$b")
  echo "profile batch $b exit code: $?"
done

if want 6; then
  sec "6. gpu tests"
  timeout "${TESTS_TIMEOUT:-420}" "$L/bin/leanseg-gpu-tests" "$OUT"
  echo "gpu tests exit code: $?"
fi

if want 7; then
  sec "7. side by side: LeanSeg step timing (CudaStepBench; args model batch size warmup steps tf32 deterministic graphs)"
  # whole-step graphs (Note [Whole-step graphs]) on and off at batch 2 and 16: what replaying the captured step saves
  # (the side-by-side figures come from the runner below)
  for cfg in "deeplabv3plus_mobilenetv2 16 512 3 10 true false true" "deeplabv3plus_mobilenetv2 16 512 3 10 true false false" \
             "deeplabv3plus_mobilenetv2 2 512 3 10 true false true" "deeplabv3plus_mobilenetv2 2 512 3 10 true false false"; do
    timeout 100 "${JAVA_CP[@]}" org.leanseg.backend.cuda.CudaStepBench $cfg
    echo "bench exit code: $?"
  done
  # the tiled depthwise kernels against cuDNN's grouped convolution in the whole step (b16, graphs on)
  echo "with LEANSEG_CUDA_DEPTHWISE=cudnn (depthwise convolutions on cuDNN, as before the tiled kernels):"
  LEANSEG_CUDA_DEPTHWISE=cudnn timeout 100 "${JAVA_CP[@]}" org.leanseg.backend.cuda.CudaStepBench deeplabv3plus_mobilenetv2 16 512 3 10 true false true
  echo "bench exit code: $?"
  if [ "${TORCH:-1}" != 0 ] && python3 -c "import torch" 2>/dev/null && [ -f "$B/benchmarks/gpu-vs-pytorch/run.py" ]; then
    # one command, alternating rounds: LeanSeg bench-step against PyTorch fp32 (TF32), AMP bf16 channels-last and
    # torch.compile on MobileNetV2 b8/b16 512², Xception-65 b2 512² and b1 1024x2048, then the largest batch in 6 and
    # 12 GiB (LeanSeg: plan + a real step; PyTorch: real steps under a memory fraction); table + $OUT/gpu-vs-pytorch.json.
    # --fused-too (FUSED_TOO= to drop it) also measures LeanSeg's fused step, whose CUDA kernels part 6 has just tested
    # (LEANSEG_UNTESTED=cuda, Note [Running untested kernels]): read its rows with part 6's results.
    # --bf16-too (BF16_TOO= to drop it) also measures LeanSeg's bf16 step (float32 kernels over widened copies, Note
    # [Widened 16-bit runs]; CudaMixedPrecisionTest in part 6 is its check).
    sec "7. side by side: benchmarks/gpu-vs-pytorch/run.py (alternating rounds, one table, JSON)"
    timeout "${SIDE_TIMEOUT:-420}" python3 "$B/benchmarks/gpu-vs-pytorch/run.py" --leanseg "$L/bin/leanseg" --rounds "${ROUNDS:-2}" \
      --warmup 3 --steps 10 --deadline "${SIDE_DEADLINE:-300}" --timeout 150 ${FUSED_TOO:---fused-too} ${BF16_TOO:---bf16-too} --budgets "${BUDGETS-6,12}" \
      --out "$OUT/gpu-vs-pytorch.json"
    echo "side-by-side exit code: $?"
  else
    echo "PyTorch side skipped (TORCH=0, no python3 with torch, or no benchmarks/ in the bundle)"
  fi
fi
if want k; then
  sec "norm kernel benchmark (CudaNormBench batch reps)"
  timeout 120 "${JAVA_CP[@]}" org.leanseg.backend.cuda.CudaNormBench 8 50
  echo "norm bench exit code: $?"
  sec "depthwise kernel benchmark (CudaDwBench batch reps)"
  timeout 120 "${JAVA_CP[@]}" org.leanseg.backend.cuda.CudaDwBench 8 50
  echo "depthwise bench exit code: $?"
fi

if want t; then
  sec "train smoke (bin/leanseg, --device auto)"
  (cd /tmp && timeout 120 "$L/bin/leanseg" train --device auto --set train.iters=2 --set train.warmup_iters=0)
  echo "train exit code: $?"
fi
sec done
