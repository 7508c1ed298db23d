// Shared CUDA helpers for LeanSeg's kernels (src/main/cuda/*.cu, compiled into one fatbin by
// build-fatbin.sh): grid-stride loops and a deterministic block reduction in double.
#pragma once
#include <cstdint>

#define LS_GRID_STRIDE(i, n) \
  for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < (n); i += (long long)blockDim.x * gridDim.x)

// Sum of v over the block (blockDim.x a power of two <= 1024); the result is valid in thread 0.
// Fixed tree order: the same inputs give the same bits on every run.
__device__ inline double ls_block_sum(double v, double* shared) {
  shared[threadIdx.x] = v;
  __syncthreads();
  for (int s = blockDim.x / 2; s > 0; s >>= 1) {
    if (threadIdx.x < s) shared[threadIdx.x] += shared[threadIdx.x + s];
    __syncthreads();
  }
  double r = shared[0];
  __syncthreads();
  return r;
}

#include "grid.cuh"  // LsDivWalk

// The grid-stride loop's first index and stride.
#define LS_GRID_START ((long long)blockIdx.x * blockDim.x + threadIdx.x)
#define LS_GRID_STEP ((long long)blockDim.x * gridDim.x)
