// 16-bit storage of a mixed-precision step on the GPU (Note [Mixed precision]; Note [Widened 16-bit runs] in
// ops/Ops.java): float32 <-> bfloat16 / binary16 as bits, exactly as tensor/Half.java converts (round to
// nearest-even, binary16 overflow to infinity, NaN kept as a quiet NaN with the same payload bits), so the cuda
// backend stores the same 16 bits the reference backend's rounding keeps. Integer bit arithmetic only: the host
// build (src/main/cpp/hostmath.cpp) runs the same functions and HostKernelMathTest compares them with Half.java
// on every CI run, edge cases included. Also the loss-scaling state update (Note [Dynamic loss scaling] in
// ops/optim/LossScale.java).
#pragma once
#ifndef __CUDACC__
#define __host__
#define __device__
#endif
#include <stdint.h>
#include <string.h>

// Storage type codes, as CpuNative.dtypeCode: 0 float32 (and integer types in float slots), 1 bfloat16, 2 binary16.
#define LS_F32 0
#define LS_BF16 1
#define LS_F16 2

__host__ __device__ inline uint32_t ls_float_bits(float f) {
#ifdef __CUDA_ARCH__
  return (uint32_t)__float_as_uint(f);
#else
  uint32_t u;
  memcpy(&u, &f, 4);
  return u;
#endif
}

__host__ __device__ inline float ls_bits_float(uint32_t u) {
#ifdef __CUDA_ARCH__
  return __uint_as_float(u);
#else
  float f;
  memcpy(&f, &u, 4);
  return f;
#endif
}

// bfloat16 bits to float (exact).
__host__ __device__ inline float ls_bf16_to_f32(uint16_t b) { return ls_bits_float((uint32_t)b << 16); }

// float to bfloat16 bits, nearest-even; NaN stays a quiet NaN (Half.floatToBf16).
__host__ __device__ inline uint16_t ls_f32_to_bf16(float f) {
  uint32_t bits = ls_float_bits(f);
  if ((bits & 0x7f800000u) == 0x7f800000u && (bits & 0x7fffffu) != 0) return (uint16_t)((bits >> 16) | 0x40);
  return (uint16_t)((bits + 0x7fffu + ((bits >> 16) & 1u)) >> 16);
}

// value >> shift, nearest-even (0 < shift < 32).
__host__ __device__ inline uint32_t ls_round_shift(uint32_t value, int shift) {
  uint32_t q = value >> shift;
  uint32_t rem = value & ((1u << shift) - 1u);
  uint32_t half = 1u << (shift - 1);
  if (rem > half || (rem == half && (q & 1u))) q++;
  return q;
}

// binary16 bits to float (exact).
__host__ __device__ inline float ls_f16_to_f32(uint16_t h) {
  uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
  uint32_t exp = (h >> 10) & 0x1fu;
  uint32_t mant = h & 0x3ffu;
  if (exp == 0x1f) return ls_bits_float(sign | 0x7f800000u | (mant << 13));
  if (exp == 0) {
    float v = (float)mant * 5.9604644775390625e-8f;  // mant * 2^-24: zero or subnormal, exact
    return sign ? -v : v;
  }
  return ls_bits_float(sign | ((exp + 112u) << 23) | (mant << 13));
}

// float to binary16 bits, nearest-even, overflow to infinity (Half.floatToHalf).
__host__ __device__ inline uint16_t ls_f32_to_f16(float f) {
  uint32_t bits = ls_float_bits(f);
  uint32_t sign = (bits >> 16) & 0x8000u;
  int exp = (int)((bits >> 23) & 0xffu);
  uint32_t mant = bits & 0x7fffffu;
  if (exp == 0xff) return (uint16_t)(sign | 0x7c00u | (mant != 0 ? 0x200u | (mant >> 13) : 0u));
  int e = exp - 127 + 15;
  if (e >= 0x1f) return (uint16_t)(sign | 0x7c00u);
  if (e <= 0) {
    if (e < -10) return (uint16_t)sign;
    return (uint16_t)(sign | ls_round_shift(mant | 0x800000u, 14 - e));
  }
  return (uint16_t)(sign | (((uint32_t)e << 10) + ls_round_shift(mant, 13)));  // a carry bumps the exponent
}

// v as storage type `type` holds it (rounded to nearest-even into 16 bits; float32 unchanged).
__host__ __device__ inline float ls_round(float v, int type) {
  if (type == LS_BF16) return ls_bf16_to_f32(ls_f32_to_bf16(v));
  if (type == LS_F16) return ls_f16_to_f32(ls_f32_to_f16(v));
  return v;
}

// Element i of a buffer of storage type `type`, as float.
__host__ __device__ inline float ls_load(const void* p, int type, long long i) {
  if (type == LS_BF16) return ls_bf16_to_f32(((const uint16_t*)p)[i]);
  if (type == LS_F16) return ls_f16_to_f32(((const uint16_t*)p)[i]);
  return ((const float*)p)[i];
}

// Stores v as element i of a buffer of storage type `type` (rounded to nearest-even into 16 bits).
__host__ __device__ inline void ls_store(void* p, int type, long long i, float v) {
  if (type == LS_BF16) {
    ((uint16_t*)p)[i] = ls_f32_to_bf16(v);
  } else if (type == LS_F16) {
    ((uint16_t*)p)[i] = ls_f32_to_f16(v);
  } else {
    ((float*)p)[i] = v;
  }
}

// Note [Dynamic loss scaling]: one update of the state [k, clean steps, skipped steps] after the overflow check
// (LossScaleUpdate.reference): on inf/NaN halve the scale (k - 1), restart the clean count, count a skipped step;
// else count a clean step and double the scale (k + 1, up to 2^127) every growthInterval clean steps.
__host__ __device__ inline void ls_loss_scale_update(float* state, int found, int growthInterval, int initialLog2) {
  float k = state[0];
  float clean = state[1];
  if (found) {
    state[0] = k - 1.f;
    state[1] = 0.f;
    state[2] = state[2] + 1.f;
  } else if (clean + 1.f >= (float)growthInterval && (float)initialLog2 + k + 1.f <= 127.f) {
    state[0] = k + 1.f;
    state[1] = 0.f;
  } else {
    state[1] = clean + 1.f;
  }
}
