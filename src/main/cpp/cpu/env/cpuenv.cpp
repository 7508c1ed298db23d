// LeanSeg cpu backend: sets an environment variable for OpenMP before its runtime is loaded (GNU
// libgomp reads its settings once, when it is loaded). Deliberately linked against nothing but libc,
// so loading it starts no OpenMP runtime. See Note [OpenMP spinning] in backend/cpu/CpuNative.java.
#include <jni.h>
#include <cstdlib>

extern "C" JNIEXPORT jboolean JNICALL Java_org_leanseg_backend_cpu_CpuNative_setenvIfUnset(JNIEnv* env, jclass, jstring name,
                                                                                          jstring value) {
    const char* n = env->GetStringUTFChars(name, nullptr);
    const char* v = env->GetStringUTFChars(value, nullptr);
    bool set = std::getenv(n) == nullptr && setenv(n, v, 0) == 0;
    env->ReleaseStringUTFChars(name, n);
    env->ReleaseStringUTFChars(value, v);
    return set;
}
