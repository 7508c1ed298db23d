// LeanSeg cpu backend: declarations shared by the JNI bindings (jni.cpp), the oneDNN convolutions
// (conv.cpp) and our own kernels (kernels.cpp). Every tensor is a plain row-major array in the planned
// native arena: float32, or for the activations of a 16-bit step (Note [Mixed precision] in
// tensor/Precision) bfloat16 or IEEE binary16; integer tensors (labels) hold exact float values, as on
// the reference backend.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include "oneapi/dnnl/dnnl.hpp"

namespace leanseg_cpu {

// ---- element types ------------------------------------------------------------------------------
// A kernel's data tensors (activations and their gradients) share one element type, passed from Java
// as a code (CpuNative.dtypeCode): 0 float32, 1 bfloat16, 2 binary16. Statistics, parameters, their
// gradients, labels and losses are always float32. Kernels load to float, compute as for float32 and
// store rounded to nearest-even: the reference backend's emulation (round on store), bit for bit.
enum Dt { DT_F32 = 0, DT_BF16 = 1, DT_F16 = 2 };

struct bf16_t {
    uint16_t bits;
};
using f16_t = _Float16;  // gcc >= 12 on x86-64: F16C conversions (vcvtph2ps / vcvtps2ph, round to nearest-even)

inline uint16_t float_to_bf16(float f) {
    uint32_t b;
    std::memcpy(&b, &f, 4);
    if ((b & 0x7fffffffu) > 0x7f800000u) return (uint16_t) ((b >> 16) | 0x40);  // NaN stays a (quiet) NaN
    return (uint16_t) ((b + 0x7fffu + ((b >> 16) & 1u)) >> 16);
}
inline float bf16_to_float(uint16_t h) {
    uint32_t b = (uint32_t) h << 16;
    float f;
    std::memcpy(&f, &b, 4);
    return f;
}

inline float ld(float x) { return x; }
inline float ld(bf16_t x) { return bf16_to_float(x.bits); }
inline float ld(f16_t x) { return (float) x; }
inline void st(float& d, float v) { d = v; }
inline void st(bf16_t& d, float v) { d.bits = float_to_bf16(v); }
inline void st(f16_t& d, float v) { d = (f16_t) v; }

inline size_t dt_bytes(int dt) { return dt == DT_F32 ? 4 : 2; }

// Calls fn<T>(args...) with T the element type of code dt.
#define LS_DISPATCH(dt, fn, ...)                                         \
    ((dt) == ::leanseg_cpu::DT_BF16  ? fn<::leanseg_cpu::bf16_t>(__VA_ARGS__) \
     : (dt) == ::leanseg_cpu::DT_F16 ? fn<::leanseg_cpu::f16_t>(__VA_ARGS__)  \
                                     : fn<float>(__VA_ARGS__))

dnnl::engine& eng();
dnnl::stream& strm();

// kind: 0 forward, 1 backward data, 2 backward weights. geo: N C H W O kh kw sh sw ph pw dh dw G Ho Wo dt
// (dt: the activations' element type; weights, bias and the weight gradient are float32).
long long conv_workspace(int kind, const int* geo, bool bias);
void conv_run(int kind, const int* geo, void* a, void* b, void* bias, void* out, void* ws);
std::string conv_impl(int kind, const int* geo, bool bias);

}  // namespace leanseg_cpu
