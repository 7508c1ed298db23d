// LeanSeg cpu backend: our own kernels (everything oneDNN does not compute for us) on the planned
// native arena, parallel over channels, planes or rows with OpenMP (the runtime oneDNN itself uses,
// so both share one thread team). Each kernel follows its op's reference kernel in ops/** (same
// formulas, double accumulators where the reference sums in double); results agree with the
// reference within float rounding (CpuOpsParityTest) and are repeatable run to run for a given
// thread count (static schedules, one thread per reduction). Each kernel is a template over the
// element type T of its data tensors (cpu.h: float, bfloat16, binary16; Note [Mixed precision]): it
// loads to float, computes as in float32 and rounds what it stores, as the reference backend
// emulates 16-bit storage; statistics, parameters, labels and losses stay float32.
#include <jni.h>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>
#include "cpu.h"

using namespace leanseg_cpu;

#define JFN(name) extern "C" JNIEXPORT void JNICALL Java_org_leanseg_backend_cpu_CpuNative_##name
#define JFND(name) extern "C" JNIEXPORT jdouble JNICALL Java_org_leanseg_backend_cpu_CpuNative_##name
#define F(p) reinterpret_cast<float*>(p)
#define A(T, p) reinterpret_cast<T*>(p)
// Loops over fewer elements than this run on the calling thread: an OpenMP fork/join costs a few
// microseconds, more than a small bias's update or a 2x2 map's statistics take.
#define PAR(n) if ((long) (n) >= 32768L)

namespace {

inline float act(float x, float cap) { return x != x ? x : std::min(std::max(x, 0.0f), cap); }
inline float gate(float y, float g, float cap) { return (y > 0.0f && y < cap) ? g : 0.0f; }

// Sum and sum of squares of deviations of one channel over (N, HW): two passes in double, as the reference.
template <class T>
void meanVar(const T* x, long nb, long ch, long hw, long c, double& mean, double& var) {
    double s = 0;
    for (long b = 0; b < nb; b++) {
        const T* p = x + (b * ch + c) * hw;
#pragma omp simd reduction(+ : s)
        for (long i = 0; i < hw; i++) s += ld(p[i]);
    }
    double n = (double) (nb * hw);
    mean = s / n;
    double q = 0;
    for (long b = 0; b < nb; b++) {
        const T* p = x + (b * ch + c) * hw;
        double m = mean;
#pragma omp simd reduction(+ : q)
        for (long i = 0; i < hw; i++) {
            double d = ld(p[i]) - m;
            q += d * d;
        }
    }
    var = q / n;
}

template <class T>
void affine(const T* x, T* y, long nb, long ch, long hw, long c, double k, double d) {
    for (long b = 0; b < nb; b++) {
        const T* p = x + (b * ch + c) * hw;
        T* q = y + (b * ch + c) * hw;
#pragma omp simd
        for (long i = 0; i < hw; i++) st(q[i], (float) (ld(p[i]) * k + d));
    }
}

// ---- elementwise ------------------------------------------------------------------------------

template <class T>
void addK(const std::vector<jlong>& a, jlong y, long n) {
    T* out = A(T, y);
    long k = (long) a.size();
#pragma omp parallel for schedule(static) PAR(n)
    for (long blk = 0; blk < (n + 4095) / 4096; blk++) {
        long lo = blk * 4096, hi = std::min<long>(n, lo + 4096);
        float acc[4096];
        const T* a0 = A(T, a[0]);
        for (long i = lo; i < hi; i++) acc[i - lo] = ld(a0[i]);
        for (long j = 1; j < k; j++) {
            const T* b = A(T, a[j]);
#pragma omp simd
            for (long i = lo; i < hi; i++) acc[i - lo] += ld(b[i]);
        }
#pragma omp simd
        for (long i = lo; i < hi; i++) st(out[i], acc[i - lo]);
    }
}

template <class T>
void scaleK(jlong x, jlong y, long n, float f) {
    const T* p = A(T, x);
    T* q = A(T, y);
#pragma omp parallel for simd schedule(static) PAR(n)
    for (long i = 0; i < n; i++) st(q[i], f * ld(p[i]));
}

template <class T>
void fillK(jlong y, long n, float v) {
    T* q = A(T, y);
    T c;
    st(c, v);
#pragma omp parallel for simd schedule(static) PAR(n)
    for (long i = 0; i < n; i++) q[i] = c;
}

template <class T>
void accumulateK(jlong acc, jlong x, long n) {
    T* a = A(T, acc);
    const T* p = A(T, x);
#pragma omp parallel for simd schedule(static) PAR(n)
    for (long i = 0; i < n; i++) st(a[i], ld(a[i]) + ld(p[i]));
}

template <class T>
void activationK(jlong x, jlong y, long n, float cap) {
    const T* p = A(T, x);
    T* q = A(T, y);
#pragma omp parallel for simd schedule(static) PAR(n)
    for (long i = 0; i < n; i++) st(q[i], act(ld(p[i]), cap));
}

template <class T>
void activationBackwardK(jlong y, jlong dy, jlong dx, long n, float cap) {
    const T* p = A(T, y);
    const T* g = A(T, dy);
    T* d = A(T, dx);
#pragma omp parallel for simd schedule(static) PAR(n)
    for (long i = 0; i < n; i++) st(d[i], gate(ld(p[i]), ld(g[i]), cap));
}

}  // namespace

JFN(add)(JNIEnv* env, jclass, jlongArray ins, jlong y, jlong n, jint dt) {
    jsize k = env->GetArrayLength(ins);
    std::vector<jlong> a(k);
    env->GetLongArrayRegion(ins, 0, k, a.data());
    LS_DISPATCH(dt, addK, a, y, n);
}

JFN(scale)(JNIEnv*, jclass, jlong x, jlong y, jlong n, jfloat f, jint dt) { LS_DISPATCH(dt, scaleK, x, y, n, f); }

JFN(fill)(JNIEnv*, jclass, jlong y, jlong n, jfloat v, jint dt) { LS_DISPATCH(dt, fillK, y, n, v); }

JFN(accumulate)(JNIEnv*, jclass, jlong acc, jlong x, jlong n, jint dt) { LS_DISPATCH(dt, accumulateK, acc, x, n); }

JFN(activation)(JNIEnv*, jclass, jlong x, jlong y, jlong n, jfloat cap, jint dt) { LS_DISPATCH(dt, activationK, x, y, n, cap); }

JFN(activationBackward)(JNIEnv*, jclass, jlong y, jlong dy, jlong dx, jlong n, jfloat cap, jint dt) {
    LS_DISPATCH(dt, activationBackwardK, y, dy, dx, n, cap);
}

// ---- batch norm -------------------------------------------------------------------------------

namespace {

// Training forward (BatchNorm / BatchNormInPlace / BatchNormReplay): y may be x. momentum < 0: no
// running-statistics update (replay).
template <class T>
void batchNormTrainK(jlong x, jlong gamma, jlong beta, jlong rm, jlong rv, jlong y, jlong saveMean, jlong saveInvStd, long nb,
                     long ch, long hw, double eps, double momentum) {
#pragma omp parallel for schedule(static) PAR(nb * ch * hw)
    for (long c = 0; c < ch; c++) {
        double mean, var;
        meanVar(A(T, x), nb, ch, hw, c, mean, var);
        double invStd = 1.0 / std::sqrt(var + eps);
        F(saveMean)[c] = (float) mean;
        F(saveInvStd)[c] = (float) invStd;
        if (momentum >= 0) {
            long n = nb * hw;
            double unbiased = n > 1 ? var * n / (n - 1) : var;
            F(rm)[c] = (float) ((1 - momentum) * F(rm)[c] + momentum * mean);
            F(rv)[c] = (float) ((1 - momentum) * F(rv)[c] + momentum * unbiased);
        }
        double k = F(gamma)[c] * invStd;
        affine(A(T, x), A(T, y), nb, ch, hw, c, k, F(beta)[c] - mean * k);
    }
}

template <class T>
void batchNormEvalK(jlong x, jlong gamma, jlong beta, jlong rm, jlong rv, jlong y, long nb, long ch, long hw, double eps) {
#pragma omp parallel for schedule(static) PAR(nb * ch * hw)
    for (long c = 0; c < ch; c++) {
        double invStd = 1.0 / std::sqrt(F(rv)[c] + eps);
        double k = F(gamma)[c] * invStd;
        affine(A(T, x), A(T, y), nb, ch, hw, c, k, F(beta)[c] - F(rm)[c] * k);
    }
}

// Stock backward from x (BatchNormBackward), from y (BatchNormBackwardFromOutput: x̂ = (y − β)/γ; dx
// may be dy) and the eval-mode backward, in one kernel: mode 0 stock, 1 from output, 2 eval.
// a = x or y; s0/s1 = (mean, invStd) | (beta, invStd) | (runningMean, runningVar).
template <class T>
void batchNormBackwardK(int mode, jlong a, jlong gamma, jlong s0, jlong s1, jlong dy, jlong dx, jlong dgamma, jlong dbeta,
                        long nb, long ch, long hw, double eps) {
    const T* src = A(T, a);
    const T* g = A(T, dy);
    T* d = A(T, dx);
#pragma omp parallel for schedule(static) PAR(nb * ch * hw)
    for (long c = 0; c < ch; c++) {
        double gm = F(gamma)[c];
        double shift, mul, invStd;  // x̂ = (src - shift) * mul
        if (mode == 0) {
            shift = F(s0)[c]; invStd = F(s1)[c]; mul = invStd;
        } else if (mode == 1) {
            shift = F(s0)[c]; invStd = F(s1)[c]; mul = 1.0 / gm;
        } else {
            shift = F(s0)[c]; invStd = 1.0 / std::sqrt(F(s1)[c] + eps); mul = invStd;
        }
        double sumDy = 0, sumDyXhat = 0;
        for (long b = 0; b < nb; b++) {
            const T* p = src + (b * ch + c) * hw;
            const T* q = g + (b * ch + c) * hw;
#pragma omp simd reduction(+ : sumDy, sumDyXhat)
            for (long i = 0; i < hw; i++) {
                double gi = ld(q[i]);
                sumDy += gi;
                sumDyXhat += gi * ((ld(p[i]) - shift) * mul);
            }
        }
        F(dgamma)[c] = (float) sumDyXhat;
        F(dbeta)[c] = (float) sumDy;
        double k = gm * invStd;
        double n = (double) nb * hw;
        double mDy = sumDy / n, mDyXhat = sumDyXhat / n;
        for (long b = 0; b < nb; b++) {
            const T* p = src + (b * ch + c) * hw;
            const T* q = g + (b * ch + c) * hw;
            T* r = d + (b * ch + c) * hw;
            if (mode == 2) {
#pragma omp simd
                for (long i = 0; i < hw; i++) st(r[i], (float) (ld(q[i]) * k));
            } else {
#pragma omp simd
                for (long i = 0; i < hw; i++) st(r[i], (float) (k * (ld(q[i]) - mDy - ((ld(p[i]) - shift) * mul) * mDyXhat)));
            }
        }
    }
}

template <class T>
void biasGradK(jlong dy, jlong db, long nb, long ch, long plane) {
#pragma omp parallel for schedule(static) PAR(nb * ch * plane)
    for (long c = 0; c < ch; c++) {
        double s = 0;
        for (long b = 0; b < nb; b++) {
            const T* p = A(T, dy) + (b * ch + c) * plane;
#pragma omp simd reduction(+ : s)
            for (long i = 0; i < plane; i++) s += ld(p[i]);
        }
        F(db)[c] = (float) s;
    }
}

}  // namespace

JFN(batchNormTrain)(JNIEnv*, jclass, jlong x, jlong gamma, jlong beta, jlong rm, jlong rv, jlong y, jlong saveMean,
                    jlong saveInvStd, jint nb, jint ch, jint hw, jdouble eps, jdouble momentum, jint dt) {
    LS_DISPATCH(dt, batchNormTrainK, x, gamma, beta, rm, rv, y, saveMean, saveInvStd, nb, ch, hw, eps, momentum);
}

JFN(batchNormEval)(JNIEnv*, jclass, jlong x, jlong gamma, jlong beta, jlong rm, jlong rv, jlong y, jint nb, jint ch,
                   jint hw, jdouble eps, jint dt) {
    LS_DISPATCH(dt, batchNormEvalK, x, gamma, beta, rm, rv, y, nb, ch, hw, eps);
}

JFN(batchNormBackward)(JNIEnv*, jclass, jint mode, jlong a, jlong gamma, jlong s0, jlong s1, jlong dy, jlong dx,
                       jlong dgamma, jlong dbeta, jint nb, jint ch, jint hw, jdouble eps, jint dt) {
    LS_DISPATCH(dt, batchNormBackwardK, mode, a, gamma, s0, s1, dy, dx, dgamma, dbeta, nb, ch, hw, eps);
}

// ---- convolution helpers ----------------------------------------------------------------------

JFN(biasGrad)(JNIEnv*, jclass, jlong dy, jlong db, jint nb, jint ch, jint plane, jint dt) {
    LS_DISPATCH(dt, biasGradK, dy, db, nb, ch, plane);
}

// ---- shape ------------------------------------------------------------------------------------

namespace {
struct Taps {
    std::vector<int> i0, i1;
    std::vector<double> w0, w1;
    Taps(int in, int out, bool alignCorners) : i0(out), i1(out), w0(out), w1(out) {
        for (int i = 0; i < out; i++) {
            double src = alignCorners ? (out > 1 ? i * (double) (in - 1) / (out - 1) : 0.0)
                                      : std::max((i + 0.5) * ((double) in / out) - 0.5, 0.0);
            int lo = std::min((int) std::floor(src), in - 1);
            i0[i] = lo;
            i1[i] = std::min(lo + 1, in - 1);
            w1[i] = src - lo;
            w0[i] = 1 - w1[i];
        }
    }
};

template <class T>
void resizeK(jlong x, jlong y, long planes, int inH, int inW, int outH, int outW, bool ac) {
    Taps rows(inH, outH, ac), cols(inW, outW, ac);
    const T* xd = A(T, x);
    T* yd = A(T, y);
#pragma omp parallel for schedule(static) PAR(planes * outH * outW)
    for (long t = 0; t < planes * outH; t++) {
        long p = t / outH;
        int i = (int) (t % outH);
        const T* r0 = xd + (p * inH + rows.i0[i]) * inW;
        const T* r1 = xd + (p * inH + rows.i1[i]) * inW;
        double h0 = rows.w0[i], h1 = rows.w1[i];
        T* out = yd + t * outW;
        for (int j = 0; j < outW; j++) {
            int c0 = cols.i0[j], c1 = cols.i1[j];
            double top = cols.w0[j] * ld(r0[c0]) + cols.w1[j] * ld(r0[c1]);
            double bottom = cols.w0[j] * ld(r1[c0]) + cols.w1[j] * ld(r1[c1]);
            st(out[j], (float) (h0 * top + h1 * bottom));
        }
    }
}

template <class T>
void resizeBackwardK(jlong dy, jlong dx, long planes, int inH, int inW, int outH, int outW, bool ac) {
    Taps rows(inH, outH, ac), cols(inW, outW, ac);
    long inPlane = (long) inH * inW, outPlane = (long) outH * outW;
#pragma omp parallel PAR(planes * outPlane)
    {
        std::vector<double> acc(inPlane);
#pragma omp for schedule(static)
        for (long p = 0; p < planes; p++) {
            std::fill(acc.begin(), acc.end(), 0.0);
            const T* g = A(T, dy) + p * outPlane;
            for (int i = 0; i < outH; i++) {
                double* a0 = acc.data() + (long) rows.i0[i] * inW;
                double* a1 = acc.data() + (long) rows.i1[i] * inW;
                double h0 = rows.w0[i], h1 = rows.w1[i];
                for (int j = 0; j < outW; j++) {
                    double v = ld(g[(long) i * outW + j]);
                    int c0 = cols.i0[j], c1 = cols.i1[j];
                    double v0 = cols.w0[j] * v, v1 = cols.w1[j] * v;
                    a0[c0] += h0 * v0;
                    a0[c1] += h0 * v1;
                    a1[c0] += h1 * v0;
                    a1[c1] += h1 * v1;
                }
            }
            T* out = A(T, dx) + p * inPlane;
            for (long k = 0; k < inPlane; k++) st(out[k], (float) acc[k]);
        }
    }
}

template <class T>
void globalAvgPoolK(jlong x, jlong y, long planes, long hw) {
#pragma omp parallel for schedule(static) PAR(planes * hw)
    for (long p = 0; p < planes; p++) {
        const T* q = A(T, x) + p * hw;
        double s = 0;
#pragma omp simd reduction(+ : s)
        for (long i = 0; i < hw; i++) s += ld(q[i]);
        st(A(T, y)[p], (float) (s / hw));
    }
}

template <class T>
void globalAvgPoolBackwardK(jlong dy, jlong dx, long planes, long hw) {
#pragma omp parallel for schedule(static) PAR(planes * hw)
    for (long p = 0; p < planes; p++) {
        T v;
        st(v, (float) ((double) ld(A(T, dy)[p]) / hw));
        T* q = A(T, dx) + p * hw;
        for (long i = 0; i < hw; i++) q[i] = v;
    }
}

template <class T>
void copyChannelsK(jlong src, long srcChannels, long srcStart, jlong dst, long dstChannels, long dstStart, long count, long nb,
                   long hw) {
#pragma omp parallel for schedule(static) PAR(nb * count * hw)
    for (long t = 0; t < nb * count; t++) {
        long n = t / count, c = t % count;
        std::memcpy(A(T, dst) + (n * dstChannels + dstStart + c) * hw, A(T, src) + (n * srcChannels + srcStart + c) * hw,
                    sizeof(T) * hw);
    }
}
}  // namespace

JFN(resize)(JNIEnv*, jclass, jlong x, jlong y, jint planes, jint inH, jint inW, jint outH, jint outW, jboolean ac, jint dt) {
    LS_DISPATCH(dt, resizeK, x, y, planes, inH, inW, outH, outW, ac);
}

JFN(resizeBackward)(JNIEnv*, jclass, jlong dy, jlong dx, jint planes, jint inH, jint inW, jint outH, jint outW,
                    jboolean ac, jint dt) {
    LS_DISPATCH(dt, resizeBackwardK, dy, dx, planes, inH, inW, outH, outW, ac);
}

JFN(globalAvgPool)(JNIEnv*, jclass, jlong x, jlong y, jint planes, jint hw, jint dt) {
    LS_DISPATCH(dt, globalAvgPoolK, x, y, planes, hw);
}

JFN(globalAvgPoolBackward)(JNIEnv*, jclass, jlong dy, jlong dx, jint planes, jint hw, jint dt) {
    LS_DISPATCH(dt, globalAvgPoolBackwardK, dy, dx, planes, hw);
}

// Copies channel blocks: dst[n, dstStart + c] = src[n, srcStart + c] for c < count (concat, channel_slice).
JFN(copyChannels)(JNIEnv*, jclass, jlong src, jint srcChannels, jint srcStart, jlong dst, jint dstChannels,
                  jint dstStart, jint count, jint nb, jint hw, jint dt) {
    LS_DISPATCH(dt, copyChannelsK, src, srcChannels, srcStart, dst, dstChannels, dstStart, count, nb, hw);
}

// ---- loss -------------------------------------------------------------------------------------
// Note [Float exp]: the softmax exponentials are taken in float (std::exp of a float argument, whose
// relative error is below 1e-7) and summed in double; the reference takes them in double. Exps were
// most of the loss's time on a 2x21x256x256 step, and the results agree within KERNEL_TOL. Logits may
// be 16-bit; the loss itself is float32 (Note [Mixed precision]).

namespace {
// Total weight of the non-ignored labels, or -(1 + index) of the first label that is no class.
double weigh(const float* labels, long count, int classes, int ignore, const float* w) {
    double total = 0;
    for (long p = 0; p < count; p++) {
        float v = labels[p];
        int y = (int) v;
        if (y == ignore && v == (float) y) continue;
        if (v != (float) y || y < 0 || y >= classes) return -(1.0 + p);
        total += w ? w[y] : 1.0;
    }
    return total;
}

std::vector<float> classWeights(JNIEnv* env, jfloatArray weights) {
    std::vector<float> wv;
    if (weights) {
        wv.resize(env->GetArrayLength(weights));
        env->GetFloatArrayRegion(weights, 0, (jsize) wv.size(), wv.data());
    }
    return wv;
}

template <class T>
double crossEntropyK(jlong z, jlong labels, jlong loss, long nb, int classes, long h, long w, int ignore, const float* cw) {
    long plane = h * w;
    double total = weigh(F(labels), nb * plane, classes, ignore, cw);
    if (total < 0) return total;
    std::vector<double> rows(nb * h);
#pragma omp parallel for schedule(static)
    for (long r = 0; r < nb * h; r++) {
        long n = r / h, hh = r % h;
        double sum = 0;
        for (long x = 0; x < w; x++) {
            int y = (int) F(labels)[r * w + x];
            if (y == ignore) continue;
            const T* zp = A(T, z) + n * classes * plane + hh * w + x;
            float mx = -std::numeric_limits<float>::infinity();
            for (int k = 0; k < classes; k++) mx = std::max(mx, ld(zp[k * plane]));
            double s = 0;
            for (int k = 0; k < classes; k++) s += std::exp(ld(zp[k * plane]) - mx);  // float exp (Note [Float exp])
            sum += (cw ? cw[y] : 1.0) * (mx + std::log(s) - ld(zp[y * plane]));
        }
        rows[r] = sum;
    }
    double l = 0;
    for (double v : rows) l += v;
    F(loss)[0] = total > 0 ? (float) (l / total) : 0.0f;
    return total;
}

template <class T>
double crossEntropyBackwardK(jlong z, jlong labels, jlong dloss, jlong dz, long nb, int classes, long h, long w, int ignore,
                             const float* cw) {
    long plane = h * w;
    double total = weigh(F(labels), nb * plane, classes, ignore, cw);
    if (total < 0) return total;
    double scale = total > 0 ? F(dloss)[0] / total : 0.0;
#pragma omp parallel
    {
        std::vector<float> e(classes);
#pragma omp for schedule(static)
        for (long r = 0; r < nb * h; r++) {
            long n = r / h, hh = r % h;
            for (long x = 0; x < w; x++) {
                int y = (int) F(labels)[r * w + x];
                long base = n * classes * plane + hh * w + x;
                T* d = A(T, dz) + base;
                if (y == ignore || scale == 0) {
                    for (int k = 0; k < classes; k++) st(d[k * plane], 0.0f);
                    continue;
                }
                const T* zp = A(T, z) + base;
                float mx = -std::numeric_limits<float>::infinity();
                for (int k = 0; k < classes; k++) mx = std::max(mx, ld(zp[k * plane]));
                double s = 0;
                for (int k = 0; k < classes; k++) {
                    e[k] = std::exp(ld(zp[k * plane]) - mx);  // float exp (Note [Float exp])
                    s += e[k];
                }
                double inv = 1.0 / s, g = scale * (cw ? cw[y] : 1.0);
                for (int k = 0; k < classes; k++) st(d[k * plane], (float) (g * (e[k] * inv - (k == y ? 1 : 0))));
            }
        }
    }
    return total;
}

// ---- fused upsample loss (Note [Fused upsample loss], ops/loss/UpsampleSoftmaxCrossEntropy.java) ----------
// The reference's arithmetic: each output row's logits interpolated as resize computes them (rounded to
// float), then the per-row NLL sums added in row order; the backward scatters each pixel's float gradient
// onto its four stride-4 taps in pixel order, one double accumulator per image (as resizeBackward per plane).

// row[k * outW + j] = logit k of output pixel (i, j) of image n (float: the interpolated logits are
// a transient of the loss, which computes in float32).
template <class T>
void interpolateRow(const T* z, long n, int classes, int inH, int inW, int i, const Taps& rows, const Taps& cols, float* row) {
    int outW = (int) cols.i0.size();
    double h0 = rows.w0[i], h1 = rows.w1[i];
    for (int k = 0; k < classes; k++) {
        long p = n * classes + k;
        const T* r0 = z + (p * inH + rows.i0[i]) * inW;
        const T* r1 = z + (p * inH + rows.i1[i]) * inW;
        float* out = row + (long) k * outW;
        for (int j = 0; j < outW; j++) {
            int c0 = cols.i0[j], c1 = cols.i1[j];
            double top = cols.w0[j] * ld(r0[c0]) + cols.w1[j] * ld(r0[c1]);
            double bottom = cols.w0[j] * ld(r1[c0]) + cols.w1[j] * ld(r1[c1]);
            out[j] = (float) (h0 * top + h1 * bottom);
        }
    }
}

template <class T>
double upsampleCrossEntropyK(jlong z, jlong labels, jlong loss, long nb, int classes, int inH, int inW, int outH, int outW,
                             bool ac, int ignore, const float* cw) {
    double total = weigh(F(labels), nb * outH * outW, classes, ignore, cw);
    if (total < 0) return total;
    Taps rows(inH, outH, ac), cols(inW, outW, ac);
    std::vector<double> sums(nb * outH);
#pragma omp parallel
    {
        std::vector<float> row((long) classes * outW);
#pragma omp for schedule(static)
        for (long r = 0; r < nb * outH; r++) {
            interpolateRow(A(T, z), r / outH, classes, inH, inW, (int) (r % outH), rows, cols, row.data());
            double sum = 0;
            for (int x = 0; x < outW; x++) {
                int y = (int) F(labels)[r * outW + x];
                if (y == ignore) continue;
                double mx = -std::numeric_limits<double>::infinity();
                for (int k = 0; k < classes; k++) mx = std::max(mx, (double) row[(long) k * outW + x]);
                double s = 0;
                for (int k = 0; k < classes; k++) s += std::exp(row[(long) k * outW + x] - mx);
                sum += (cw ? cw[y] : 1.0) * (mx + std::log(s) - row[(long) y * outW + x]);
            }
            sums[r] = sum;
        }
    }
    double l = 0;
    for (double v : sums) l += v;
    F(loss)[0] = total > 0 ? (float) (l / total) : 0.0f;
    return total;
}

template <class T>
double upsampleCrossEntropyBackwardK(jlong z, jlong labels, jlong dloss, jlong dz, long nb, int classes, int inH, int inW, int outH,
                                     int outW, bool ac, int ignore, const float* cw) {
    double total = weigh(F(labels), nb * outH * outW, classes, ignore, cw);
    if (total < 0) return total;
    double scale = total > 0 ? F(dloss)[0] / total : 0.0;
    Taps rows(inH, outH, ac), cols(inW, outW, ac);
    long inPlane = (long) inH * inW;
#pragma omp parallel
    {
        std::vector<double> acc((long) classes * inPlane), e(classes);
        std::vector<float> row((long) classes * outW);
#pragma omp for schedule(static)
        for (long n = 0; n < nb; n++) {
            std::fill(acc.begin(), acc.end(), 0.0);
            for (int i = 0; scale != 0 && i < outH; i++) {
                interpolateRow(A(T, z), n, classes, inH, inW, i, rows, cols, row.data());
                long r0 = (long) rows.i0[i] * inW, r1 = (long) rows.i1[i] * inW;
                double h0 = rows.w0[i], h1 = rows.w1[i];
                for (int x = 0; x < outW; x++) {
                    int y = (int) F(labels)[(n * outH + i) * outW + x];
                    if (y == ignore) continue;
                    double mx = -std::numeric_limits<double>::infinity();
                    for (int k = 0; k < classes; k++) mx = std::max(mx, (double) row[(long) k * outW + x]);
                    double s = 0;
                    for (int k = 0; k < classes; k++) {
                        e[k] = std::exp(row[(long) k * outW + x] - mx);
                        s += e[k];
                    }
                    double inv = 1.0 / s, g = scale * (cw ? cw[y] : 1.0);
                    int c0 = cols.i0[x], c1 = cols.i1[x];
                    for (int k = 0; k < classes; k++) {
                        double gk = (float) (g * (e[k] * inv - (k == y ? 1 : 0)));
                        double v0 = cols.w0[x] * gk, v1 = cols.w1[x] * gk;
                        double* a = acc.data() + (long) k * inPlane;
                        a[r0 + c0] += h0 * v0;
                        a[r0 + c1] += h0 * v1;
                        a[r1 + c0] += h1 * v0;
                        a[r1 + c1] += h1 * v1;
                    }
                }
            }
            T* out = A(T, dz) + n * classes * inPlane;
            for (long q = 0; q < (long) classes * inPlane; q++) st(out[q], (float) acc[q]);
        }
    }
    return total;
}

template <class T>
void upsampleArgmaxK(jlong z, jlong y, long nb, int classes, int inH, int inW, int outH, int outW, bool ac) {
    Taps rows(inH, outH, ac), cols(inW, outW, ac);
#pragma omp parallel
    {
        std::vector<float> row((long) classes * outW);
#pragma omp for schedule(static)
        for (long r = 0; r < nb * outH; r++) {
            interpolateRow(A(T, z), r / outH, classes, inH, inW, (int) (r % outH), rows, cols, row.data());
            for (int x = 0; x < outW; x++) {
                int best = 0;
                float bv = row[x];
                for (int k = 1; k < classes; k++) {
                    float v = row[(long) k * outW + x];
                    if (v > bv || (bv != bv && v == v)) {
                        best = k;
                        bv = v;
                    }
                }
                F(y)[r * outW + x] = (float) best;
            }
        }
    }
}

template <class T>
void argmaxK(jlong z, jlong y, long nb, int classes, long h, long w) {
    long plane = h * w;
#pragma omp parallel for schedule(static)
    for (long r = 0; r < nb * h; r++) {
        long n = r / h, hh = r % h;
        for (long x = 0; x < w; x++) {
            const T* zp = A(T, z) + n * classes * plane + hh * w + x;
            int best = 0;
            float bv = ld(zp[0]);
            for (int k = 1; k < classes; k++) {
                float v = ld(zp[k * plane]);
                if (v > bv || (bv != bv && v == v)) {
                    best = k;
                    bv = v;
                }
            }
            F(y)[r * w + x] = (float) best;
        }
    }
}
}  // namespace

// Returns the loss's denominator (total weight), or -(1 + index) of a bad label (nothing written).
JFND(crossEntropy)(JNIEnv* env, jclass, jlong z, jlong labels, jlong loss, jint nb, jint classes, jint h, jint w, jint ignore,
                   jfloatArray weights, jint dt) {
    std::vector<float> wv = classWeights(env, weights);
    return LS_DISPATCH(dt, crossEntropyK, z, labels, loss, nb, classes, h, w, ignore, weights ? wv.data() : nullptr);
}

JFND(crossEntropyBackward)(JNIEnv* env, jclass, jlong z, jlong labels, jlong dloss, jlong dz, jint nb, jint classes, jint h,
                           jint w, jint ignore, jfloatArray weights, jint dt) {
    std::vector<float> wv = classWeights(env, weights);
    return LS_DISPATCH(dt, crossEntropyBackwardK, z, labels, dloss, dz, nb, classes, h, w, ignore, weights ? wv.data() : nullptr);
}

// Returns the loss's denominator (total weight), or -(1 + index) of a bad label (nothing written).
JFND(upsampleCrossEntropy)(JNIEnv* env, jclass, jlong z, jlong labels, jlong loss, jint nb, jint classes, jint inH, jint inW,
                           jint outH, jint outW, jboolean ac, jint ignore, jfloatArray weights, jint dt) {
    std::vector<float> wv = classWeights(env, weights);
    return LS_DISPATCH(dt, upsampleCrossEntropyK, z, labels, loss, nb, classes, inH, inW, outH, outW, ac, ignore,
                       weights ? wv.data() : nullptr);
}

JFND(upsampleCrossEntropyBackward)(JNIEnv* env, jclass, jlong z, jlong labels, jlong dloss, jlong dz, jint nb, jint classes,
                                   jint inH, jint inW, jint outH, jint outW, jboolean ac, jint ignore, jfloatArray weights,
                                   jint dt) {
    std::vector<float> wv = classWeights(env, weights);
    return LS_DISPATCH(dt, upsampleCrossEntropyBackwardK, z, labels, dloss, dz, nb, classes, inH, inW, outH, outW, ac, ignore,
                       weights ? wv.data() : nullptr);
}

JFN(upsampleArgmax)(JNIEnv*, jclass, jlong z, jlong y, jint nb, jint classes, jint inH, jint inW, jint outH, jint outW,
                    jboolean ac, jint dt) {
    LS_DISPATCH(dt, upsampleArgmaxK, z, y, nb, classes, inH, inW, outH, outW, ac);
}

JFN(argmax)(JNIEnv*, jclass, jlong z, jlong y, jint nb, jint classes, jint h, jint w, jint dt) {
    LS_DISPATCH(dt, argmaxK, z, y, nb, classes, h, w);
}

// ---- optimizer (float32 only: parameters, gradients and momenta are never 16-bit) ---------------

JFN(sgd)(JNIEnv*, jclass, jlong param, jlong grad, jlong buf, jlong lrPtr, jlong n, jfloat momentum,
         jboolean nesterov, jfloat weightDecay, jfloat lrScale, jboolean zeroGrad) {
    float* p = F(param);
    float* g = F(grad);
    float* m = F(buf);
    double lr = (double) F(lrPtr)[0] * lrScale;
#pragma omp parallel for simd schedule(static) PAR(n)
    for (long i = 0; i < n; i++) {
        float d = (float) (g[i] + (double) weightDecay * p[i]);
        float b = (float) ((double) momentum * m[i] + d);
        m[i] = b;
        float step = nesterov ? (float) (d + (double) momentum * b) : b;
        p[i] = (float) (p[i] - lr * step);
        if (zeroGrad) g[i] = 0.0f;
    }
}
