// LeanSeg cpu backend: JNI bindings of backend/cpu/CpuNative for native memory (64-byte aligned
// arenas, copies to and from Java arrays), the thread count, and the oneDNN convolutions.
#include <jni.h>
#include <omp.h>
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

JCLS(jlong, convWorkspace)(JNIEnv* env, jclass, jint kind, jintArray geo, jboolean bias) {
    jint g[16];
    env->GetIntArrayRegion(geo, 0, 16, g);
    try {
        return leanseg_cpu::conv_workspace(kind, g, bias);
    } catch (const dnnl::error& e) {
        throwJava(env, e.what());
        return 0;
    }
}

JCLS(void, conv)(JNIEnv* env, jclass, jint kind, jintArray geo, jlong a, jlong b, jlong bias, jlong out, jlong ws) {
    jint g[16];
    env->GetIntArrayRegion(geo, 0, 16, g);
    try {
        leanseg_cpu::conv_run(kind, g, reinterpret_cast<void*>(a), reinterpret_cast<void*>(b),
                              reinterpret_cast<void*>(bias), reinterpret_cast<void*>(out), reinterpret_cast<void*>(ws));
    } catch (const dnnl::error& e) {
        throwJava(env, e.what());
    }
}

JCLS(jstring, convImpl)(JNIEnv* env, jclass, jint kind, jintArray geo, jboolean bias) {
    jint g[16];
    env->GetIntArrayRegion(geo, 0, 16, g);
    try {
        return env->NewStringUTF(leanseg_cpu::conv_impl(kind, g, bias).c_str());
    } catch (const dnnl::error& e) {
        throwJava(env, e.what());
        return nullptr;
    }
}
