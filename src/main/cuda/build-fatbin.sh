#!/usr/bin/env bash
# Compiles every src/main/cuda/*.cu into ONE fatbin (sm_80, sm_86, sm_89, sm_90 + compute_90 PTX),
# the jar resource that backend/cuda/Kernels loads with cuModuleLoadData. Run by the Maven build
# (exec-maven-plugin, process-resources); by hand:  bash src/main/cuda/build-fatbin.sh out.fatbin
# Without nvcc (NVCC unset and none on PATH / in /usr/local/cuda/bin) it prints one line and exits 0:
# the build succeeds and the cuda backend reports that its kernels are missing.
set -euo pipefail
OUT=${1:?usage: build-fatbin.sh OUTPUT.fatbin}
DIR=$(cd "$(dirname "$0")" && pwd)
NVCC=${NVCC:-$(command -v nvcc || true)}
[ -n "$NVCC" ] || { [ -x /usr/local/cuda/bin/nvcc ] && NVCC=/usr/local/cuda/bin/nvcc; }
if [ -z "$NVCC" ]; then
  echo "[cuda] nvcc not found: building without GPU kernels (the cuda backend will say so)"
  rm -f "$OUT" "${OUT%.fatbin}.sig"
  exit 0
fi
SIG="${OUT%.fatbin}.sig"   # each kernel's parameter types, from its PTX: CudaKernels checks every launch against them
# up to date? (newer than every .cu/.cuh and this script)
if [ -f "$OUT" ] && [ -f "$SIG" ] && [ -z "$(find "$DIR" \( -name '*.cu' -o -name '*.cuh' -o -name build-fatbin.sh \) -newer "$OUT")" ]; then
  echo "[cuda] $OUT is up to date"
  exit 0
fi
mkdir -p "$(dirname "$OUT")"
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
# one translation unit including every .cu: one module, one cuModuleLoadData
for f in "$DIR"/*.cu; do echo "#include \"$f\""; done > "$T/all.cu"
"$NVCC" -fatbin -O3 -std=c++17 -I"$DIR" \
  -gencode arch=compute_80,code=sm_80 -gencode arch=compute_86,code=sm_86 \
  -gencode arch=compute_89,code=sm_89 -gencode arch=compute_90,code=sm_90 \
  -gencode arch=compute_90,code=compute_90 -o "$T/k.fatbin" "$T/all.cu"
# "name type,type,..." per kernel (u32 int, u64 long long or pointer, f32 float, f64 double), from the PTX entries
"$NVCC" -ptx -O3 -std=c++17 -I"$DIR" -arch=compute_90 -o "$T/k.ptx" "$T/all.cu"
awk '/^\.visible \.entry/ { name = $3; sub(/\(.*/, "", name); types = ""; inside = 1; next }
     inside && /\.param/ { t = $2; gsub(/\./, "", t); types = types (types == "" ? "" : ",") t }
     inside && /^\)/ { print name " " types; inside = 0 }' "$T/k.ptx" | sort > "$T/k.sig"
mv "$T/k.fatbin" "$OUT"
mv "$T/k.sig" "$SIG"
echo "[cuda] $("$NVCC" --version | tail -1): $(ls "$DIR"/*.cu | wc -l) .cu files -> $OUT ($(stat -c %s "$OUT") bytes)"
