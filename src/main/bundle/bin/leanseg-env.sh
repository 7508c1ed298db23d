# Sourced by bin/leanseg and bin/leanseg-gpu-tests of the LeanSeg offline bundle (not run on its own).
# Sets LEANSEG_HOME, LEANSEG_JAVA (the bundled runtime, else JAVA_HOME's or PATH's java) and puts the
# directories holding CUDA 13 / cuDNN 9 / cuBLAS libraries in front of LD_LIBRARY_PATH, in this order:
#   1. LEANSEG_CUDA_LIBS: colon-separated directories, as given;
#   2. the nvidia/*/lib folders of pip's CUDA wheels (e.g. a PyTorch venv): under LEANSEG_PYTHON_VENV
#      (a venv root or a site-packages folder) if set, else those of the python3 on PATH
#      (python3 -c 'import nvidia'); CUDA 13 wheels put everything in nvidia/cu13/lib;
#   3. system CUDA: $CUDA_HOME/lib64, /usr/local/cuda/lib64, /usr/local/cuda/targets/x86_64-linux/lib;
#   and the driver's libcuda.so.1 from the usual driver mounts when the linker cache lacks it.
# It must happen before java starts (GPU.md: JavaCPP's own lookup misses NVRTC's builtins). Nothing found is
# no error: java then reports in one line that CUDA is unavailable and runs on the CPU.
# LEANSEG_PRINT_ENV=1 prints the outcome on stderr.
LEANSEG_HOME=${LEANSEG_HOME:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
if [ -x "$LEANSEG_HOME/runtime/bin/java" ]; then
  LEANSEG_JAVA="$LEANSEG_HOME/runtime/bin/java"
elif [ -n "${JAVA_HOME:-}" ] && [ -x "$JAVA_HOME/bin/java" ]; then
  LEANSEG_JAVA="$JAVA_HOME/bin/java"
else
  LEANSEG_JAVA=java
fi

_ls_dirs=""
_ls_add() {
  [ -d "$1" ] || return 0
  case ":$_ls_dirs:" in *":$1:"*) ;; *) _ls_dirs="${_ls_dirs:+$_ls_dirs:}$1" ;; esac
}
# the nvidia package folders (site-packages/nvidia) of the chosen Python environment, one per line
_ls_nvidia_roots() {
  if [ -n "${LEANSEG_PYTHON_VENV:-}" ]; then
    find -L "$LEANSEG_PYTHON_VENV" -maxdepth 5 -type d -name nvidia -path '*-packages/nvidia' 2>/dev/null
  elif command -v python3 >/dev/null 2>&1; then
    python3 -c 'import nvidia; print("\n".join(nvidia.__path__))' 2>/dev/null || true
  fi
}

IFS=: read -r -a _ls_given <<< "${LEANSEG_CUDA_LIBS:-}"
for _ls_d in ${_ls_given[@]+"${_ls_given[@]}"}; do _ls_add "$_ls_d"; done
while IFS= read -r _ls_root; do
  [ -n "$_ls_root" ] || continue
  for _ls_d in "$_ls_root"/*/lib; do _ls_add "$_ls_d"; done
done < <(_ls_nvidia_roots)
for _ls_d in ${CUDA_HOME:+"$CUDA_HOME/lib64"} /usr/local/cuda/lib64 /usr/local/cuda/targets/x86_64-linux/lib; do _ls_add "$_ls_d"; done
_ls_cache=$(ldconfig -p 2>/dev/null || /sbin/ldconfig -p 2>/dev/null || true)
case "$_ls_cache" in
  *"libcuda.so.1 "*) ;;
  *) for _ls_d in /usr/local/nvidia/lib64 /usr/local/nvidia/lib /usr/lib/x86_64-linux-gnu /usr/lib64 /usr/lib/wsl/lib; do
       if [ -e "$_ls_d/libcuda.so.1" ]; then _ls_add "$_ls_d"; break; fi
     done ;;
esac
if [ -n "$_ls_dirs" ]; then
  export LD_LIBRARY_PATH="$_ls_dirs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
fi
if [ "${LEANSEG_PRINT_ENV:-0}" = 1 ]; then
  echo "leanseg: java $LEANSEG_JAVA" >&2
  echo "leanseg: LD_LIBRARY_PATH=${LD_LIBRARY_PATH:-}" >&2
fi
unset _ls_dirs _ls_given _ls_d _ls_root _ls_cache
unset -f _ls_add _ls_nvidia_roots
