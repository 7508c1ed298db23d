// Host build of the CUDA kernels' arithmetic: the __host__ __device__ functions of src/main/cuda/*.cuh,
// compiled by g++ (build-hostmath.sh, run by the Maven build) into a small JNI library that
// org.leanseg.backend.cuda.HostMath loads. Each entry point runs one whole op the way its kernel does,
// with the same per-element functions and index arithmetic, but sequentially (the kernels' block
// reductions become plain double sums). HostKernelMathTest compares every entry point against the
// reference backend's op kernels on random inputs, so the kernels' math is checked on machines with
// no GPU. JNI surface: float/int arrays in, float arrays out (written in place), scalars by value.
#include <jni.h>

#include <vector>

#include "conv.cuh"
#include "elementwise.cuh"
#include "half.cuh"
#include "loss.cuh"
#include "resize.cuh"

namespace {

// A Java float[] pinned for the duration of a call, copied back on release (null stays null).
class Floats {
 public:
  Floats(JNIEnv* env, jfloatArray a) : env_(env), a_(a), p_(a ? env->GetFloatArrayElements(a, nullptr) : nullptr) {}
  ~Floats() {
    if (p_) env_->ReleaseFloatArrayElements(a_, p_, 0);
  }
  Floats(const Floats&) = delete;
  Floats& operator=(const Floats&) = delete;
  float* get() const { return p_; }
  float& operator[](long long i) const { return p_[i]; }

 private:
  JNIEnv* env_;
  jfloatArray a_;
  float* p_;
};

// The geometry array of the depthwise entry points: {N, C, mult, H, W, Hout, Wout, kh, kw, sH, sW, pH, pW, dH, dW}.
struct DwArgs {
  int n, c, mult;
  LsDwGeom g;
};

DwArgs dwArgs(JNIEnv* env, jintArray geom) {
  jint v[15];
  env->GetIntArrayRegion(geom, 0, 15, v);
  return DwArgs{v[0], v[1], v[2], {v[3], v[4], v[5], v[6], v[7], v[8], v[9], v[10], v[11], v[12], v[13], v[14]}};
}

}  // namespace

extern "C" {

// ActConv2d forward (ls_act_dw_forward_k): y [N, C*mult, Hout, Wout] out; bias may be null.
JNIEXPORT void JNICALL Java_org_leanseg_backend_cuda_HostMath_actDepthwiseForward(
    JNIEnv* env, jclass, jfloatArray jz, jfloatArray jw, jfloatArray jbias, jintArray jgeom, jfloat cap, jfloatArray jy) {
  DwArgs a = dwArgs(env, jgeom);
  Floats z(env, jz), w(env, jw), bias(env, jbias), y(env, jy);
  const LsDwGeom& g = a.g;
  int cout = a.c * a.mult;
  for (long long i = 0; i < (long long)a.n * cout * g.Hout * g.Wout; i++) {
    int ow = (int)(i % g.Wout);
    int oh = (int)((i / g.Wout) % g.Hout);
    long long plane = i / ((long long)g.Wout * g.Hout);
    int co = (int)(plane % cout);
    long long n = plane / cout;
    const float* zp = z.get() + (n * a.c + co / a.mult) * (long long)g.H * g.W;
    y[i] = ls_act_dw_output(zp, w.get() + (long long)co * g.kh * g.kw, bias.get() ? bias[co] : 0.f, g, oh, ow, cap);
  }
}

// ActConv2dBackwardFilter (ls_act_dw_filter_k): dW [C*mult, 1, kh, kw] out.
JNIEXPORT void JNICALL Java_org_leanseg_backend_cuda_HostMath_actDepthwiseBackwardFilter(
    JNIEnv* env, jclass, jfloatArray jz, jfloatArray jdy, jintArray jgeom, jfloat cap, jfloatArray jdW) {
  DwArgs a = dwArgs(env, jgeom);
  Floats z(env, jz), dy(env, jdy), dW(env, jdW);
  const LsDwGeom& g = a.g;
  int taps = g.kh * g.kw;
  int cout = a.c * a.mult;
  long long per = (long long)g.Hout * g.Wout;
  for (int co = 0; co < cout; co++) {
    for (int t = 0; t < taps; t++) {
      double s = 0;
      for (int n = 0; n < a.n; n++) {
        const float* zp = z.get() + ((long long)n * a.c + co / a.mult) * g.H * g.W;
        const float* dp = dy.get() + ((long long)n * cout + co) * per;
        for (long long j = 0; j < per; j++) {
          s += ls_act_dw_filter_term(zp, dp[j], g, (int)(j / g.Wout), (int)(j % g.Wout), t / g.kw, t % g.kw, cap);
        }
      }
      dW[(long long)co * taps + t] = (float)s;
    }
  }
}

// SoftmaxCrossEntropy forward and backward (ls_ce_partial_k / finalize / backward) over logits [N, K, HW] and
// float-slot labels [N, HW]: returns the mean loss and writes dz for dLoss; weights may be null. An invalid
// label returns NaN (the kernels report its pixel; the reference throws).
JNIEXPORT jdouble JNICALL Java_org_leanseg_backend_cuda_HostMath_crossEntropy(
    JNIEnv* env, jclass, jfloatArray jz, jfloatArray jlabels, jint N, jint K, jint HW, jint ignoreIndex,
    jfloatArray jweights, jfloat dLoss, jfloatArray jdz, jint dt) {
  Floats z(env, jz), labels(env, jlabels), weights(env, jweights), dz(env, jdz);
  long long pixels = (long long)N * HW;
  long long n = (long long)N * K * HW;
  // 16-bit logits and dz (storage type dt): copies in that type, dz widened back at the end
  std::vector<uint16_t> z16(dt ? n : 0), dz16(dt ? n : 0);
  for (long long i = 0; dt && i < n; i++) ls_store(z16.data(), dt, i, z[i]);
  const void* zp = dt ? (const void*)z16.data() : (const void*)z.get();
  void* dzp = dt ? (void*)dz16.data() : (void*)dz.get();
  double loss = 0, total = 0;
  for (long long i = 0; i < pixels; i++) {
    int y = ls_label_class(labels[i], K, ignoreIndex);
    if (y == -2) return NAN;
    if (y < 0) continue;
    double w = weights.get() ? (double)weights[y] : 1.0;
    total += w;
    loss += w * ls_ce_nll_t(zp, dt, (i / HW) * K * HW + (i % HW), HW, K, y);
  }
  double scale = total > 0 ? dLoss / total : 0.0;
  for (long long i = 0; i < pixels; i++) {
    long long base = (i / HW) * K * HW + (i % HW);
    int y = ls_label_class(labels[i], K, ignoreIndex);
    ls_ce_pixel_backward_t(zp, dzp, dt, base, HW, K, y, scale, y >= 0 && weights.get() ? (double)weights[y] : 1.0);
  }
  for (long long i = 0; dt && i < n; i++) dz[i] = ls_load(dz16.data(), dt, i);
  return total > 0 ? (double)(float)(loss / total) : 0.0;
}

// Bilinear taps of one axis (ls_bilinear_tap): i0, i1 (as floats), w0, w1 for each of the `out` indices.
JNIEXPORT void JNICALL Java_org_leanseg_backend_cuda_HostMath_bilinearTaps(
    JNIEnv* env, jclass, jint in, jint out, jboolean alignCorners, jfloatArray ji0, jfloatArray ji1, jdoubleArray jw0,
    jdoubleArray jw1) {
  Floats i0(env, ji0), i1(env, ji1);
  jdouble* w0 = env->GetDoubleArrayElements(jw0, nullptr);
  jdouble* w1 = env->GetDoubleArrayElements(jw1, nullptr);
  for (int i = 0; i < out; i++) {
    LsTap t = ls_bilinear_tap(i, in, out, alignCorners);
    i0[i] = (float)t.i0;
    i1[i] = (float)t.i1;
    w0[i] = t.w0;
    w1[i] = t.w1;
  }
  env->ReleaseDoubleArrayElements(jw0, w0, 0);
  env->ReleaseDoubleArrayElements(jw1, w1, 0);
}

// Resize forward (ls_resize_forward_k) or backward (ls_resize_backward_k) over `planes` planes:
// forward reads x [planes, inH, inW] and writes y [planes, outH, outW]; backward reads dy [planes, outH, outW]
// and writes dx [planes, inH, inW].
JNIEXPORT void JNICALL Java_org_leanseg_backend_cuda_HostMath_resize(
    JNIEnv* env, jclass, jboolean backward, jfloatArray jsrc, jint planes, jint inH, jint inW, jint outH, jint outW,
    jboolean alignCorners, jfloatArray jdst) {
  Floats src(env, jsrc), dst(env, jdst);
  if (!backward) {
    for (long long i = 0; i < (long long)planes * outH * outW; i++) {
      long long p = i / ((long long)outW * outH);
      dst[i] = ls_resize_at(src.get() + p * inH * inW, inH, inW, outH, outW, (int)((i / outW) % outH), (int)(i % outW),
                            alignCorners);
    }
    return;
  }
  for (long long i = 0; i < (long long)planes * inH * inW; i++) {
    long long p = i / ((long long)inW * inH);
    dst[i] = ls_resize_backward_at(src.get() + p * outH * outW, inH, inW, outH, outW, (int)((i / inW) % inH),
                                   (int)(i % inW), alignCorners);
  }
}

// Sgd (ls_sgd_k): p and buf updated in place; g zeroed when zeroGrad.
JNIEXPORT void JNICALL Java_org_leanseg_backend_cuda_HostMath_sgd(
    JNIEnv* env, jclass, jfloatArray jp, jfloatArray jg, jfloatArray jbuf, jfloat lr, jfloat lrScale, jfloat momentum,
    jfloat wd, jboolean nesterov, jboolean zeroGrad) {
  Floats p(env, jp), g(env, jg), buf(env, jbuf);
  double step = (double)lr * lrScale;
  jsize n = env->GetArrayLength(jp);
  for (jsize i = 0; i < n; i++) {
    float b = buf[i];
    p[i] = ls_sgd(p[i], g[i], &b, step, momentum, wd, nesterov);
    buf[i] = b;
    if (zeroGrad) g[i] = 0.f;
  }
}

// AdamW (ls_adamw_k): p, m, v updated in place; g zeroed when zeroGrad; hyper = [lr, 1 - beta1^t, 1 - beta2^t].
JNIEXPORT void JNICALL Java_org_leanseg_backend_cuda_HostMath_adamw(
    JNIEnv* env, jclass, jfloatArray jp, jfloatArray jg, jfloatArray jm, jfloatArray jv, jfloatArray jhyper,
    jfloat lrScale, jfloat beta1, jfloat beta2, jfloat eps, jfloat wd, jboolean zeroGrad) {
  Floats p(env, jp), g(env, jg), m(env, jm), v(env, jv), hyper(env, jhyper);
  double lr = (double)hyper[0] * lrScale;
  double bc1 = hyper[1], bc2 = hyper[2];
  double decay = ls_adamw_decay(lr, wd);
  jsize n = env->GetArrayLength(jp);
  for (jsize i = 0; i < n; i++) {
    float mi = m[i], vi = v[i];
    p[i] = ls_adamw(p[i], g[i], &mi, &vi, lr, bc1, bc2, beta1, beta2, eps, decay);
    m[i] = mi;
    v[i] = vi;
    if (zeroGrad) g[i] = 0.f;
  }
}

// ls_convert_k's element conversions (half.cuh): float32 values to 16-bit bits of type `type` (1 bf16, 2 f16),
// through ls_store, and back through ls_load.
JNIEXPORT void JNICALL Java_org_leanseg_backend_cuda_HostMath_toBits(JNIEnv* env, jclass, jfloatArray jx, jint type,
                                                                     jshortArray jbits) {
  Floats x(env, jx);
  jsize n = env->GetArrayLength(jx);
  jshort* b = env->GetShortArrayElements(jbits, nullptr);
  for (jsize i = 0; i < n; i++) ls_store(b, type, i, x[i]);
  env->ReleaseShortArrayElements(jbits, b, 0);
}

JNIEXPORT void JNICALL Java_org_leanseg_backend_cuda_HostMath_fromBits(JNIEnv* env, jclass, jshortArray jbits, jint type,
                                                                       jfloatArray jx) {
  Floats x(env, jx);
  jsize n = env->GetArrayLength(jx);
  jshort* b = env->GetShortArrayElements(jbits, nullptr);
  for (jsize i = 0; i < n; i++) x[i] = ls_load(b, type, i);
  env->ReleaseShortArrayElements(jbits, b, JNI_ABORT);
}

// ls_loss_scale_update_k's state update (half.cuh): state [k, clean, skipped] updated in place.
JNIEXPORT void JNICALL Java_org_leanseg_backend_cuda_HostMath_lossScaleUpdate(JNIEnv* env, jclass, jfloatArray jstate,
                                                                              jboolean found, jint growthInterval,
                                                                              jint initialLog2) {
  Floats state(env, jstate);
  ls_loss_scale_update(state.get(), found ? 1 : 0, growthInterval, initialLog2);
}

// The typed elementwise kernels' element functions (elementwise.cuh) over all elements, storage type `type` for every
// tensor (1 bf16, 2 f16): kind 0 activation (in = x; param = cap), 1 activation backward (in = y then dy), 2 add of k
// inputs, 3 scale (param = factor), 4 accumulate (out updated in place with in). `in` holds k tensors of n elements.
JNIEXPORT void JNICALL Java_org_leanseg_backend_cuda_HostMath_elementwiseTyped(JNIEnv* env, jclass, jint kind, jfloat param,
                                                                                jint k, jint type, jshortArray jin,
                                                                                jshortArray jout) {
  jsize n = env->GetArrayLength(jout);
  jshort* in = env->GetShortArrayElements(jin, nullptr);
  jshort* out = env->GetShortArrayElements(jout, nullptr);
  const void* x[8];
  for (int j = 0; j < k && j < 8; j++) x[j] = in + (long long)j * n;
  for (long long i = 0; i < n; i++) {
    switch (kind) {
      case 0: ls_act_forward_t(i, param, x[0], type, out, type); break;
      case 1: ls_act_backward_t(i, param, x[0], type, x[1], type, out, type); break;
      case 2: ls_add_t(i, k, type, x, out, type); break;
      case 3: ls_scale_t(i, param, x[0], type, out, type); break;
      default: ls_accumulate_t(i, out, type, x[0], type); break;
    }
  }
  env->ReleaseShortArrayElements(jin, in, JNI_ABORT);
  env->ReleaseShortArrayElements(jout, out, 0);
}

}  // extern "C"

