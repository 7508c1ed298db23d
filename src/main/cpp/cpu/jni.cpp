// LeanSeg cpu backend: JNI bindings of backend/cpu/CpuNative for native memory (64-byte aligned
// arenas, copies to and from Java arrays), the thread count, and the oneDNN convolutions.
#include <jni.h>
#include <omp.h>
#include <algorithm>
#include <cstdlib>
#include <cstring>
#include "cpu.h"

#define JCLS(ret, name) extern "C" JNIEXPORT ret JNICALL Java_org_leanseg_backend_cpu_CpuNative_##name

namespace {
void throwJava(JNIEnv* env, const char* what) {
    jclass c = env->FindClass("java/lang/IllegalStateException");
    env->ThrowNew(c, what);
}
}  // namespace

JCLS(jlong, malloc)(JNIEnv* env, jclass, jlong bytes) {
    size_t n = ((size_t) bytes + 63) & ~size_t(63);
    void* p = std::aligned_alloc(64, n == 0 ? 64 : n);
    if (!p) {
        throwJava(env, "cpu backend: out of native memory");
        return 0;
    }
    char* c = static_cast<char*>(p);
#pragma omp parallel for schedule(static)
    for (long i = 0; i < (long) n; i += 1 << 20) std::memset(c + i, 0, std::min<size_t>(1 << 20, n - i));
    return reinterpret_cast<jlong>(p);
}

JCLS(void, free)(JNIEnv*, jclass, jlong address) { std::free(reinterpret_cast<void*>(address)); }

JCLS(void, copyIn)(JNIEnv* env, jclass, jfloatArray src, jint offset, jlong dst, jint count) {
    env->GetFloatArrayRegion(src, offset, count, reinterpret_cast<float*>(dst));
}

JCLS(void, copyOut)(JNIEnv* env, jclass, jlong src, jfloatArray dst, jint offset, jint count) {
    env->SetFloatArrayRegion(dst, offset, count, reinterpret_cast<const float*>(src));
}

JCLS(void, copy)(JNIEnv*, jclass, jlong src, jlong dst, jlong bytes) {
    std::memmove(reinterpret_cast<void*>(dst), reinterpret_cast<const void*>(src), (size_t) bytes);
}

JCLS(void, setThreads)(JNIEnv*, jclass, jint n) { omp_set_num_threads(n); }

JCLS(jint, threads)(JNIEnv*, jclass) { return omp_get_max_threads(); }

// geo: 17 ints (cpu.h)
JCLS(jlong, convWorkspace)(JNIEnv* env, jclass, jint kind, jintArray geo, jboolean bias) {
    jint g[17];
    env->GetIntArrayRegion(geo, 0, 17, g);
    try {
        return leanseg_cpu::conv_workspace(kind, g, bias);
    } catch (const dnnl::error& e) {
        throwJava(env, e.what());
        return 0;
    }
}

JCLS(void, conv)(JNIEnv* env, jclass, jint kind, jintArray geo, jlong a, jlong b, jlong bias, jlong out, jlong ws) {
    jint g[17];
    env->GetIntArrayRegion(geo, 0, 17, g);
    try {
        leanseg_cpu::conv_run(kind, g, reinterpret_cast<void*>(a), reinterpret_cast<void*>(b),
                              reinterpret_cast<void*>(bias), reinterpret_cast<void*>(out), reinterpret_cast<void*>(ws));
    } catch (const dnnl::error& e) {
        throwJava(env, e.what());
    }
}

JCLS(jstring, convImpl)(JNIEnv* env, jclass, jint kind, jintArray geo, jboolean bias) {
    jint g[17];
    env->GetIntArrayRegion(geo, 0, 17, g);
    try {
        return env->NewStringUTF(leanseg_cpu::conv_impl(kind, g, bias).c_str());
    } catch (const dnnl::error& e) {
        throwJava(env, e.what());
        return nullptr;
    }
}

// Note [Mixed precision] (tensor/Precision): 16-bit storage on the cpu backend. Float to bfloat16 or
// IEEE binary16 rounds to nearest-even (binary16 overflows to infinity, NaN stays NaN), bit for bit as
// tensor/Half.java does (HalfTest checks the two agree); back to float is exact.
namespace {
using leanseg_cpu::bf16_to_float;
using leanseg_cpu::float_to_bf16;
inline uint32_t round_shift(uint32_t v, int shift) {
    uint32_t q = v >> shift, rem = v & ((1u << shift) - 1), half = 1u << (shift - 1);
    return (rem > half || (rem == half && (q & 1u))) ? q + 1 : q;
}
inline uint16_t float_to_half(float f) {
    uint32_t b;
    std::memcpy(&b, &f, 4);
    uint32_t sign = (b >> 16) & 0x8000u, mant = b & 0x7fffffu;
    int exp = (int) ((b >> 23) & 0xff);
    if (exp == 0xff) return (uint16_t) (sign | 0x7c00u | (mant ? 0x200u | (mant >> 13) : 0u));
    int e = exp - 127 + 15;
    if (e >= 0x1f) return (uint16_t) (sign | 0x7c00u);
    if (e <= 0) {
        if (e < -10) return (uint16_t) sign;
        return (uint16_t) (sign | round_shift(mant | 0x800000u, 14 - e));
    }
    return (uint16_t) (sign | (((uint32_t) e << 10) + round_shift(mant, 13)));
}
inline float half_to_float(uint16_t h) {
    uint32_t sign = (uint32_t) (h & 0x8000u) << 16, exp = (h >> 10) & 0x1fu, mant = h & 0x3ffu, b;
    if (exp == 0x1f) {
        b = sign | 0x7f800000u | (mant << 13);
    } else if (exp == 0) {
        float v = (float) mant * 0x1p-24f;
        return sign ? -v : v;
    } else {
        b = sign | ((exp + 112) << 23) | (mant << 13);
    }
    float f;
    std::memcpy(&f, &b, 4);
    return f;
}
}  // namespace

// fp16 false: bfloat16. Elements go through a stack chunk, so no Java array is pinned while converting.
JCLS(void, copyIn16)(JNIEnv* env, jclass, jfloatArray src, jint offset, jlong dst, jint count, jboolean fp16) {
    uint16_t* out = reinterpret_cast<uint16_t*>(dst);
    float chunk[4096];
    for (jint i = 0; i < count; i += 4096) {
        jint n = std::min<jint>(4096, count - i);
        env->GetFloatArrayRegion(src, offset + i, n, chunk);
        for (jint k = 0; k < n; k++) out[i + k] = fp16 ? float_to_half(chunk[k]) : float_to_bf16(chunk[k]);
    }
}

JCLS(void, copyOut16)(JNIEnv* env, jclass, jlong src, jfloatArray dst, jint offset, jint count, jboolean fp16) {
    const uint16_t* in = reinterpret_cast<const uint16_t*>(src);
    float chunk[4096];
    for (jint i = 0; i < count; i += 4096) {
        jint n = std::min<jint>(4096, count - i);
        for (jint k = 0; k < n; k++) chunk[k] = fp16 ? half_to_float(in[i + k]) : bf16_to_float(in[i + k]);
        env->SetFloatArrayRegion(dst, offset + i, n, chunk);
    }
}
