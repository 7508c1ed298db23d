#!/usr/bin/env bash
# One-shot GPU check on a lent GPU machine (no Java, no network): system info, the JavaCPP/CUDA probe from
# the offline bundle (.bundle/, built here by tools/gpu/make-probe-bundle.sh and carried), and the PyTorch
# peer baseline (tools/gpu/pytorch_baseline.py). Logs and JSON go to $OUT (default .device-out/).
# Device-tool call used:  run(command="bash tools/gpu/device-run.sh", carry=[".bundle"], timeout_s=600)
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
OUT=${OUT:-$ROOT/.device-out}
mkdir -p "$OUT"
exec > >(tee -a "$OUT/device-run.log") 2>&1
cd "$ROOT"
sec() { echo; echo "===== $* ($(date -u +%H:%M:%S))"; }

sec "system"
date -u; uname -a; head -2 /etc/os-release; ldd --version 2>&1 | head -1; nproc; free -g | head -2
sec "nvidia-smi"
nvidia-smi
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm,clocks.max.mem,power.limit,compute_mode,persistence_mode --format=csv
sec "python / torch / cuDNN"
command -v python3; python3 --version
python3 - <<'PY'
import torch
print("torch", torch.__version__, "cuda", torch.version.cuda, "cudnn", torch.backends.cudnn.version(),
      "available", torch.cuda.is_available())
if torch.cuda.is_available():
    print("device", torch.cuda.get_device_name(0), torch.cuda.get_device_capability(0))
try:
    import timm; print("timm", timm.__version__)
except Exception as e:
    print("timm import failed:", e)
PY
python3 -m pip list 2>/dev/null | grep -i -E '^(torch|torchvision|timm|numpy|nvidia-(cudnn|cublas|cuda-runtime|cuda-nvrtc|cuda-cupti))[ -]'
nvcc --version 2>&1 | tail -2

sec "JavaCPP / CUDA probe"
timeout 180 bash "$HERE/run-probe.sh"
echo "probe exit code: $?"

sec "PyTorch baseline"
PYTHONUNBUFFERED=1 timeout 420 python3 "$HERE/pytorch_baseline.py" --out "$OUT/pytorch_baseline.json" "$@"
echo "baseline exit code: $?"
sec "done"
