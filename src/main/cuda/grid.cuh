// The execution context of a kernel body written once for the GPU and the host (Note [Kernel bodies on two
// machines], docs/cuda-kernels.md). A body is a template over its thread type T and reads its coordinates only
// through T: t.tx(), t.bx(), t.by(), t.bdim(), t.gx(), t.gy(); it synchronises with t.sync(), takes a ticket
// from a global counter with t.ticket(counter) (the "last block done" pattern) and reads other blocks' results
// with t.load_cg(p). Its shared memory is a struct the caller passes by reference.
//
//   on the GPU: LsDevThread below; the __global__ wrapper declares the __shared__ struct and calls the body.
//   on the host: LsHostThread (src/main/cpp/hostgrid.h) runs every block of the same grid, each block's threads
//   as fibers that switch at t.sync(), in a chosen block and thread order (HostKernelGridTest runs several
//   orders and demands identical bits: a race or an order-dependent reduction shows up as a difference).
#pragma once
#ifndef __CUDACC__
#define __host__
#define __device__
#endif

#ifndef __CUDACC__
struct float4 {  // the CUDA vector type, for the host build
  float x, y, z, w;
};
#include <math.h>
#endif

#ifdef __CUDACC__
struct LsDevThread {
  __device__ int tx() const { return threadIdx.x; }
  __device__ int bx() const { return blockIdx.x; }
  __device__ int by() const { return blockIdx.y; }
  __device__ int bdim() const { return blockDim.x; }
  __device__ int gx() const { return gridDim.x; }
  __device__ int gy() const { return gridDim.y; }
  __device__ void sync() const { __syncthreads(); }
  // Publishes this block's earlier global writes, then counts it in: the ticket is the number of blocks
  // counted in before it (the block that draws count - 1 is the last).
  __device__ unsigned ticket(unsigned* counter) const {
    __threadfence();
    return atomicAdd(counter, 1u);
  }
  // A read that bypasses the (non-coherent) L1 cache: values another block wrote before its ticket.
  __device__ float load_cg(const float* p) const { return __ldcg(p); }
  // *p = min(*p, v), atomically (the first bad label's index, whatever the block order).
  __device__ void atomic_min_u64(unsigned long long* p, unsigned long long v) const { atomicMin(p, v); }
};
#endif

// Sum of v over the block into sh[0] (blockDim a power of two <= the array's length); fixed tree order,
// so the same inputs give the same bits on every run and machine. Every thread must call it.
template <class T, class V>
__host__ __device__ inline V ls_tree_sum(const T& t, V v, V* sh) {
  sh[t.tx()] = v;
  t.sync();
  for (int s = t.bdim() / 2; s > 0; s >>= 1) {
    if (t.tx() < s) sh[t.tx()] += sh[t.tx() + s];
    t.sync();
  }
  V r = sh[0];
  t.sync();
  return r;
}

// Two sums at once (one barrier per tree level for both).
template <class T, class V>
__host__ __device__ inline void ls_tree_sum2(const T& t, V& a, V& b, V* sa, V* sb) {
  sa[t.tx()] = a;
  sb[t.tx()] = b;
  t.sync();
  for (int s = t.bdim() / 2; s > 0; s >>= 1) {
    if (t.tx() < s) {
      sa[t.tx()] += sa[t.tx() + s];
      sb[t.tx()] += sb[t.tx() + s];
    }
    t.sync();
  }
  a = sa[0];
  b = sb[0];
  t.sync();
}

// (q, r) = (i / d, i % d) along a strided loop (i = start, start + stride, ...), kept up to date without a division
// per step: one division per thread at the start, then an add and a compare per step (the "(i / HW) % C in 64-bit
// for every element" of the old kernels). next() returns whether r wrapped (q took one more than stride / d); inc()
// adds 1 to the walked index. I: int for a block's threads over a tile (dw.cuh), long long over a grid.
template <class I>
struct LsWalk {
  I q, r, dq, dr, d;
  __host__ __device__ LsWalk(I start, I stride, I d_) : d(d_) {
    q = start / d;
    r = start - q * d;
    dq = stride / d;
    dr = stride - dq * d;
  }
  __host__ __device__ bool next() {
    r += dr;
    q += dq;
    if (r >= d) {
      r -= d;
      q++;
      return true;
    }
    return false;
  }
  __host__ __device__ void inc() {
    if (++r >= d) {
      r = 0;
      q++;
    }
  }
};
typedef LsWalk<long long> LsDivWalk;
