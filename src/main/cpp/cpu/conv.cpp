// LeanSeg cpu backend: convolutions through oneDNN primitives (forward, backward data, backward
// weights) on plain NCHW / OIHW tensors in the planned arena. oneDNN picks its preferred (blocked)
// layouts ("any"); the reorders into and out of them and oneDNN's user-managed scratchpad all live in
// the workspace the caller passes, whose size conv_workspace() reports before anything runs, so the
// plan counts them (Note [cpu workspace] in backend/cpu/CpuBackend.java). Primitives are built once
// per geometry and cached. Checked by CpuOpsParityTest against the reference backend.
#include "cpu.h"
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>
#include <algorithm>
#include <cstring>
#include <cstdlib>

// Loops over fewer elements than this stay on the calling thread (as PAR in kernels.cpp).
#define PARALLEL_IF(n) if ((long) (n) >= 32768L)

using namespace dnnl;
using tag = memory::format_tag;
using dt = memory::data_type;

namespace leanseg_cpu {

engine& eng() {
    static engine e(engine::kind::cpu, 0);
    return e;
}
stream& strm() {
    static stream s(eng());
    return s;
}

namespace {

// geometry: N C H W O kh kw sh sw ph pw dh dw G Ho Wo
struct Geo {
    int v[16];
    bool operator<(const Geo& o) const { return std::lexicographical_compare(v, v + 16, o.v, o.v + 16); }
    int n() const { return v[0]; } int c() const { return v[1]; } int h() const { return v[2]; } int w() const { return v[3]; }
    int o() const { return v[4]; } int kh() const { return v[5]; } int kw() const { return v[6]; }
    int g() const { return v[13]; } int ho() const { return v[14]; } int wo() const { return v[15]; }
    memory::dims src() const { return {n(), c(), h(), w()}; }
    memory::dims dst() const { return {n(), o(), ho(), wo()}; }
    memory::dims wei() const {
        return g() > 1 ? memory::dims{g(), o() / g(), c() / g(), kh(), kw()} : memory::dims{o(), c(), kh(), kw()};
    }
    tag weiTag() const { return g() > 1 ? tag::goihw : tag::oihw; }
    memory::dims strides() const { return {v[7], v[8]}; }
    memory::dims pads() const { return {v[9], v[10]}; }
    memory::dims dil() const { return {v[11] - 1, v[12] - 1}; }  // oneDNN counts dilation from 0
};

// One argument the primitive reads or writes: its plain (user) layout, the primitive's layout, and
// where in the workspace its reordered copy lives when the two differ.
struct Arg {
    memory::desc user, prim;
    bool reorder = false;
    size_t offset = 0;
    std::unique_ptr<dnnl::reorder> toPrim, toUser;
};

struct Plan {
    primitive prim;
    Arg a[3];  // kind-specific: fwd {src, wei, dst}; bwd data {diff_dst, wei, diff_src}; bwd weights {src, diff_dst, diff_wei}
    size_t scratchOffset = 0, scratchBytes = 0, bytes = 0;
    memory::desc scratch;
    memory::desc bias;
    std::string impl;
};

size_t align64(size_t b) { return (b + 63) & ~size_t(63); }

void place(Plan& p, Arg& a, const memory::desc& user, const memory::desc& prim, bool in, bool out) {
    a.user = user;
    a.prim = prim;
    a.reorder = user != prim;
    if (a.reorder) {
        a.offset = p.bytes;
        p.bytes += align64(prim.get_size());
        if (in) a.toPrim.reset(new dnnl::reorder(reorder::primitive_desc(eng(), user, eng(), prim)));
        if (out) a.toUser.reset(new dnnl::reorder(reorder::primitive_desc(eng(), prim, eng(), user)));
    }
}

primitive_attr userScratch() {
    primitive_attr attr;
    attr.set_scratchpad_mode(scratchpad_mode::user);
    return attr;
}

convolution_forward::primitive_desc forwardPd(const Geo& g, bool bias) {
    auto any = [](memory::dims d) { return memory::desc(d, dt::f32, tag::any); };
    memory::desc b = bias ? memory::desc({g.o()}, dt::f32, tag::x) : memory::desc();
    return convolution_forward::primitive_desc(eng(), prop_kind::forward_training, algorithm::convolution_direct,
            any(g.src()), any(g.wei()), b, any(g.dst()), g.strides(), g.dil(), g.pads(), g.pads(), userScratch());
}

void finish(Plan& p, const memory::desc& scratch) {
    p.scratch = scratch;
    p.scratchBytes = scratch.get_size();
    p.scratchOffset = p.bytes;
    p.bytes += align64(p.scratchBytes);
}

std::unique_ptr<Plan> build(int kind, const Geo& g, bool bias) {
    auto plain = [](memory::dims d, tag t) { return memory::desc(d, dt::f32, t); };
    std::unique_ptr<Plan> p(new Plan());
    auto fpd = forwardPd(g, bias);
    if (kind == 0) {
        place(*p, p->a[0], plain(g.src(), tag::nchw), fpd.src_desc(), true, false);
        place(*p, p->a[1], plain(g.wei(), g.weiTag()), fpd.weights_desc(), true, false);
        place(*p, p->a[2], plain(g.dst(), tag::nchw), fpd.dst_desc(), false, true);
        p->bias = fpd.bias_desc();
        p->prim = convolution_forward(fpd);
        p->impl = fpd.impl_info_str();
        finish(*p, fpd.scratchpad_desc());
    } else if (kind == 1) {
        auto any = [](memory::dims d) { return memory::desc(d, dt::f32, tag::any); };
        auto pd = convolution_backward_data::primitive_desc(eng(), algorithm::convolution_direct, any(g.src()), any(g.wei()),
                any(g.dst()), g.strides(), g.dil(), g.pads(), g.pads(), fpd, userScratch());
        place(*p, p->a[0], plain(g.dst(), tag::nchw), pd.diff_dst_desc(), true, false);
        place(*p, p->a[1], plain(g.wei(), g.weiTag()), pd.weights_desc(), true, false);
        place(*p, p->a[2], plain(g.src(), tag::nchw), pd.diff_src_desc(), false, true);
        p->prim = convolution_backward_data(pd);
        p->impl = pd.impl_info_str();
        finish(*p, pd.scratchpad_desc());
    } else {
        auto any = [](memory::dims d) { return memory::desc(d, dt::f32, tag::any); };
        auto pd = convolution_backward_weights::primitive_desc(eng(), algorithm::convolution_direct, any(g.src()), any(g.wei()),
                any(g.dst()), g.strides(), g.dil(), g.pads(), g.pads(), fpd, userScratch());
        place(*p, p->a[0], plain(g.src(), tag::nchw), pd.src_desc(), true, false);
        place(*p, p->a[1], plain(g.dst(), tag::nchw), pd.diff_dst_desc(), true, false);
        place(*p, p->a[2], plain(g.wei(), g.weiTag()), pd.diff_weights_desc(), false, true);
        p->prim = convolution_backward_weights(pd);
        p->impl = pd.impl_info_str();
        finish(*p, pd.scratchpad_desc());
    }
    return p;
}

std::mutex cacheLock;
std::map<std::pair<int, Geo>, std::unique_ptr<Plan>> cache;

Plan& plan(int kind, const Geo& g, bool bias) {
    std::lock_guard<std::mutex> lock(cacheLock);
    auto key = std::make_pair(kind * 2 + (bias ? 1 : 0), g);
    auto it = cache.find(key);
    if (it == cache.end()) {
        it = cache.emplace(key, build(kind, g, bias)).first;
    }
    return *it->second;
}

memory mem(const memory::desc& d, void* ptr) { return memory(d, eng(), ptr); }

// Runs one primitive: reorders inputs into the workspace, runs, reorders the output back.
void execute(Plan& p, int argIds[3], void* ptrs[3], void* bias, char* ws) {
    std::unordered_map<int, memory> args;
    memory prim[3];
    for (int i = 0; i < 3; i++) {
        Arg& a = p.a[i];
        memory user = mem(a.user, ptrs[i]);
        if (a.reorder) {
            prim[i] = mem(a.prim, ws + a.offset);
            if (a.toPrim) a.toPrim->execute(strm(), user, prim[i]);
        } else {
            prim[i] = user;
        }
        args.insert({argIds[i], prim[i]});
    }
    if (bias) args.insert({DNNL_ARG_BIAS, mem(p.bias, bias)});
    if (p.scratchBytes) args.insert({DNNL_ARG_SCRATCHPAD, mem(p.scratch, ws + p.scratchOffset)});
    p.prim.execute(strm(), args);
    for (int i = 0; i < 3; i++) {
        Arg& a = p.a[i];
        if (a.toUser) {
            memory user = mem(a.user, ptrs[i]);
            a.toUser->execute(strm(), prim[i], user);
        }
    }
    strm().wait();
}

// ---- Note [cpu conv paths] --------------------------------------------------------------------
// Every tensor in the arena is plain NCHW, and oneDNN's fast convolutions want blocked layouts
// (nChw16c): each call reorders its source, weights and destination into the workspace and back.
// For two families that reorder costs more than the convolution itself, so they skip oneDNN's
// convolution primitives and read and write NCHW directly:
//  - 1x1, stride 1, no padding, one group (most of MobileNetV2 and the decoder's projections): per
//    image a plain GEMM, y[n] (O x HW) = W (O x C) x[n] (C x HW), through oneDNN's sgemm. Small maps
//    (HW < kPackHw) run one image per thread with a sequential sgemm; the filter gradient of small
//    maps packs dy and x into [O | C, N*HW] in the workspace and runs one GEMM over the whole batch.
//  - depthwise (groups == C, O a multiple of C): our own loops over one plane at a time, the fused
//    activation applied as x is read (no activated copy at all), fixed summation order.
// Everything else (3x3 dense, grouped, strided 1x1) keeps oneDNN's primitives. The per-geometry
// choice is pathOf(); the workspace each path needs comes from conv_workspace(), so the plan counts it.
enum class Path { ONEDNN, GEMM_1X1, DEPTHWISE };

// LEANSEG_CPU_CONV=onednn sends every convolution to oneDNN's primitives (A/B runs, a fallback).
bool onednnOnly() {
    static const bool only = [] {
        const char* e = std::getenv("LEANSEG_CPU_CONV");
        return e != nullptr && std::string(e) == "onednn";
    }();
    return only;
}

Path pathOf(const Geo& g) {
    const int* v = g.v;
    if (onednnOnly()) return Path::ONEDNN;
    if (g.g() == 1 && g.kh() == 1 && g.kw() == 1 && v[7] == 1 && v[8] == 1 && v[9] == 0 && v[10] == 0) return Path::GEMM_1X1;
    if (g.g() > 1 && g.g() == g.c() && g.o() % g.c() == 0) return Path::DEPTHWISE;
    return Path::ONEDNN;
}

constexpr long kPackHw = 1024;

bool hasAct(float cap) { return cap > 0.0f; }
inline float actf(float x, float cap) { return x != x ? x : std::min(std::max(x, 0.0f), cap); }

void sgemm(char ta, char tb, long m, long n, long k, const float* a, long lda, const float* b, long ldb, float beta, float* c, long ldc) {
    dnnl_status_t st = dnnl_sgemm(ta, tb, m, n, k, 1.0f, a, lda, b, ldb, beta, c, ldc);
    if (st != dnnl_success) throw dnnl::error(st, "dnnl_sgemm");
}

long long gemmWorkspace(int kind, const Geo& g) {
    long hw = (long) g.h() * g.w();
    if (kind == 2 && g.n() > 1 && hw < kPackHw) return (long long) align64(4L * (g.o() + g.c()) * g.n() * hw);
    return 0;
}

void gemmRun(int kind, const Geo& g, const float* a, const float* b, const float* bias, float* out, char* ws) {
    long n = g.n(), c = g.c(), o = g.o(), hw = (long) g.h() * g.w();
    bool small = hw < kPackHw && n > 1;
    if (kind == 0) {  // a = x [N, C, HW], b = W [O, C], out = y [N, O, HW]
#pragma omp parallel for schedule(static) if (small)
        for (long i = 0; i < n; i++) {
            float* y = out + i * o * hw;
            sgemm('N', 'N', o, hw, c, b, c, a + i * c * hw, hw, 0.0f, y, hw);
            if (bias)
                for (long k = 0; k < o; k++)
                    for (long p = 0; p < hw; p++) y[k * hw + p] += bias[k];
        }
    } else if (kind == 1) {  // a = dy [N, O, HW], b = W [O, C], out = dx [N, C, HW]
#pragma omp parallel for schedule(static) if (small)
        for (long i = 0; i < n; i++) sgemm('T', 'N', c, hw, o, b, c, a + i * o * hw, hw, 0.0f, out + i * c * hw, hw);
    } else if (small) {  // a = x [N, C, HW], b = dy [N, O, HW], out = dW [O, C]; pack both as [rows, N*HW]
        float* xp = reinterpret_cast<float*>(ws);
        float* dyp = xp + c * n * hw;
        long cols = n * hw;
#pragma omp parallel for schedule(static) PARALLEL_IF((c + o) * cols)
        for (long r = 0; r < c + o; r++) {
            bool isX = r < c;
            long row = isX ? r : r - c;
            const float* src = isX ? a : b;
            long chans = isX ? c : o;
            float* dst = (isX ? xp : dyp) + row * cols;
            for (long i = 0; i < n; i++) std::memcpy(dst + i * hw, src + (i * chans + row) * hw, 4 * hw);
        }
        sgemm('N', 'T', o, c, cols, dyp, cols, xp, cols, 0.0f, out, c);
    } else {
        for (long i = 0; i < n; i++) sgemm('N', 'T', o, c, hw, b + i * o * hw, hw, a + i * c * hw, hw, i == 0 ? 0.0f : 1.0f, out, c);
    }
}

// Depthwise (channel multiplier m = O / C): output plane oc reads input plane oc / m.
struct Dw {
    long n, c, h, w, o, kh, kw, sh, sw, ph, pw, dh, dw, ho, wo, m;
    explicit Dw(const Geo& g)
        : n(g.n()), c(g.c()), h(g.h()), w(g.w()), o(g.o()), kh(g.kh()), kw(g.kw()), sh(g.v[7]), sw(g.v[8]), ph(g.v[9]),
          pw(g.v[10]), dh(g.v[11]), dw(g.v[12]), ho(g.ho()), wo(g.wo()), m(g.o() / g.c()) {}
    // output columns [lo, hi) whose input column wo * sw - pw + kj * dw lies inside the row
    void cols(long kj, long& lo, long& hi) const {
        long off = kj * dw - pw;
        lo = off >= 0 ? 0 : (-off + sw - 1) / sw;
        hi = (w - 1 - off) < 0 ? 0 : std::min(wo, (w - 1 - off) / sw + 1);
        if (hi < lo) hi = lo;
    }
};

// A row of zeros standing in for the input rows above and below the map (activations map 0 to 0).
const float* zeroRow(long w) {
    thread_local std::vector<float> zeros;
    if ((long) zeros.size() < w) zeros.assign(w, 0.0f);
    return zeros.data();
}

// One output row of a 3x3 depthwise conv: every tap summed in registers, the row written once.
// rows[ki] is input row ki's first column (a zero row where it lies outside the map).
template <bool ACT, int SW>
void dwRow3(const Dw& d, const float* const rows[3], const float* k, float b0, float* orow, float cap) {
    long lo0, hi0, lo2, hi2;
    d.cols(0, lo0, hi0);
    d.cols(2, lo2, hi2);
    long ql = std::max(lo0, lo2), qh = std::min(hi0, hi2);  // every tap inside the row
    if (qh < ql) qh = ql;
    auto tap = [&](long ki, long kj, long q) {
        long col = q * SW - d.pw + kj * d.dw;
        float v = (col < 0 || col >= d.w) ? 0.0f : rows[ki][col];
        return k[ki * 3 + kj] * (ACT ? actf(v, cap) : v);
    };
    for (long q = 0; q < std::min(ql, d.wo); q++) {
        float acc = b0;
        for (int ki = 0; ki < 3; ki++)
            for (int kj = 0; kj < 3; kj++) acc += tap(ki, kj, q);
        orow[q] = acc;
    }
    const float k0 = k[0], k1 = k[1], k2 = k[2], k3 = k[3], k4 = k[4], k5 = k[5], k6 = k[6], k7 = k[7], k8 = k[8];
    const long o0 = -d.pw, o1 = d.dw - d.pw, o2 = 2 * d.dw - d.pw;
    const float *r0 = rows[0], *r1 = rows[1], *r2 = rows[2];
#define LS_A(x) (ACT ? actf((x), cap) : (x))
#pragma omp simd
    for (long q = ql; q < qh; q++) {
        long c = q * SW;
        float acc = b0;
        acc += k0 * LS_A(r0[c + o0]);
        acc += k1 * LS_A(r0[c + o1]);
        acc += k2 * LS_A(r0[c + o2]);
        acc += k3 * LS_A(r1[c + o0]);
        acc += k4 * LS_A(r1[c + o1]);
        acc += k5 * LS_A(r1[c + o2]);
        acc += k6 * LS_A(r2[c + o0]);
        acc += k7 * LS_A(r2[c + o1]);
        acc += k8 * LS_A(r2[c + o2]);
        orow[q] = acc;
    }
#undef LS_A
    for (long q = qh; q < d.wo; q++) {
        float acc = b0;
        for (int ki = 0; ki < 3; ki++)
            for (int kj = 0; kj < 3; kj++) acc += tap(ki, kj, q);
        orow[q] = acc;
    }
}

template <bool ACT>
void dwForward(const Dw& d, const float* x, const float* wt, const float* bias, float* y, float cap) {
    bool k3 = d.kh == 3 && d.kw == 3 && (d.sw == 1 || d.sw == 2);
#pragma omp parallel for schedule(static) PARALLEL_IF(d.n * d.o * d.ho * d.wo * d.kh * d.kw)
    for (long p = 0; p < d.n * d.o; p++) {
        long img = p / d.o, oc = p % d.o;
        const float* in = x + (img * d.c + oc / d.m) * d.h * d.w;
        const float* k = wt + oc * d.kh * d.kw;
        float* out = y + p * d.ho * d.wo;
        float b0 = bias ? bias[oc] : 0.0f;
        if (k3) {  // taps summed in registers, each output written once
            const float* zero = zeroRow(d.w);
            for (long r = 0; r < d.ho; r++) {
                const float* rows[3];
                for (int ki = 0; ki < 3; ki++) {
                    long hr = r * d.sh - d.ph + ki * d.dh;
                    rows[ki] = (hr < 0 || hr >= d.h) ? zero : in + hr * d.w;
                }
                if (d.sw == 1) dwRow3<ACT, 1>(d, rows, k, b0, out + r * d.wo, cap);
                else dwRow3<ACT, 2>(d, rows, k, b0, out + r * d.wo, cap);
            }
            continue;
        }
        for (long i = 0; i < d.ho * d.wo; i++) out[i] = b0;
        for (long ki = 0; ki < d.kh; ki++) {
            for (long kj = 0; kj < d.kw; kj++) {
                float wk = k[ki * d.kw + kj];
                long lo, hi;
                d.cols(kj, lo, hi);
                long off = kj * d.dw - d.pw;
                for (long r = 0; r < d.ho; r++) {
                    long hr = r * d.sh - d.ph + ki * d.dh;
                    if (hr < 0 || hr >= d.h) continue;
                    const float* row = in + hr * d.w + off;
                    float* orow = out + r * d.wo;
                    if (d.sw == 1) {
#pragma omp simd
                        for (long q = lo; q < hi; q++) orow[q] += wk * (ACT ? actf(row[q], cap) : row[q]);
                    } else {
                        for (long q = lo; q < hi; q++) orow[q] += wk * (ACT ? actf(row[q * d.sw], cap) : row[q * d.sw]);
                    }
                }
            }
        }
    }
}

void dwBackwardData(const Dw& d, const float* dy, const float* wt, float* dx) {
#pragma omp parallel for schedule(static) PARALLEL_IF(d.n * d.o * d.ho * d.wo * d.kh * d.kw)
    for (long p = 0; p < d.n * d.c; p++) {
        long img = p / d.c, ch = p % d.c;
        float* out = dx + p * d.h * d.w;
        std::memset(out, 0, 4 * d.h * d.w);
        for (long j = 0; j < d.m; j++) {
            long oc = ch * d.m + j;
            const float* g = dy + (img * d.o + oc) * d.ho * d.wo;
            const float* k = wt + oc * d.kh * d.kw;
            for (long ki = 0; ki < d.kh; ki++) {
                for (long kj = 0; kj < d.kw; kj++) {
                    float wk = k[ki * d.kw + kj];
                    long lo, hi;
                    d.cols(kj, lo, hi);
                    long off = kj * d.dw - d.pw;
                    for (long r = 0; r < d.ho; r++) {
                        long hr = r * d.sh - d.ph + ki * d.dh;
                        if (hr < 0 || hr >= d.h) continue;
                        float* row = out + hr * d.w + off;
                        const float* grow = g + r * d.wo;
                        if (d.sw == 1) {
#pragma omp simd
                            for (long q = lo; q < hi; q++) row[q] += wk * grow[q];
                        } else {
                            for (long q = lo; q < hi; q++) row[q * d.sw] += wk * grow[q];
                        }
                    }
                }
            }
        }
    }
}

template <bool ACT>
void dwBackwardWeights(const Dw& d, const float* x, const float* dy, float* dwt, float cap) {
#pragma omp parallel for schedule(static) PARALLEL_IF(d.n * d.o * d.ho * d.wo * d.kh * d.kw)
    for (long oc = 0; oc < d.o; oc++) {
        for (long ki = 0; ki < d.kh; ki++) {
            for (long kj = 0; kj < d.kw; kj++) {
                long lo, hi;
                d.cols(kj, lo, hi);
                long off = kj * d.dw - d.pw;
                double acc = 0;
                for (long img = 0; img < d.n; img++) {
                    const float* in = x + (img * d.c + oc / d.m) * d.h * d.w;
                    const float* g = dy + (img * d.o + oc) * d.ho * d.wo;
                    for (long r = 0; r < d.ho; r++) {
                        long hr = r * d.sh - d.ph + ki * d.dh;
                        if (hr < 0 || hr >= d.h) continue;
                        const float* row = in + hr * d.w + off;
                        const float* grow = g + r * d.wo;
                        float s = 0.0f;
                        if (d.sw == 1) {
#pragma omp simd reduction(+ : s)
                            for (long q = lo; q < hi; q++) s += grow[q] * (ACT ? actf(row[q], cap) : row[q]);
                        } else {
                            for (long q = lo; q < hi; q++) s += grow[q] * (ACT ? actf(row[q * d.sw], cap) : row[q * d.sw]);
                        }
                        acc += s;
                    }
                }
                dwt[(oc * d.kh + ki) * d.kw + kj] = (float) acc;
            }
        }
    }
}

void dwRun(int kind, const Geo& g, const float* a, const float* b, const float* bias, float* out, float cap) {
    Dw d(g);
    if (kind == 0) {
        if (hasAct(cap)) dwForward<true>(d, a, b, bias, out, cap);
        else dwForward<false>(d, a, b, bias, out, cap);
    } else if (kind == 1) {
        dwBackwardData(d, a, b, out);
    } else {
        if (hasAct(cap)) dwBackwardWeights<true>(d, a, b, out, cap);
        else dwBackwardWeights<false>(d, a, b, out, cap);
    }
}

// The activated copy of the source that a path without fused activation convolves (kinds 0 and 2).
long long actBytes(int kind, const Geo& g, float cap) {
    if (!hasAct(cap) || kind == 1 || pathOf(g) == Path::DEPTHWISE) return 0;
    return (long long) align64(4L * g.n() * g.c() * g.h() * g.w());
}

Geo geoOf(const int* geo) {
    Geo g;
    std::copy(geo, geo + 16, g.v);
    return g;
}

}  // namespace

long long conv_workspace(int kind, const int* geo, bool bias, float act) {
    Geo g = geoOf(geo);
    long long pre = actBytes(kind, g, act);
    switch (pathOf(g)) {
        case Path::GEMM_1X1: return pre + gemmWorkspace(kind, g);
        case Path::DEPTHWISE: return 0;
        default: return pre + (long long) plan(kind, g, bias).bytes;
    }
}

void conv_run(int kind, const int* geo, void* a, void* b, void* bias, void* out, void* ws, float act) {
    Geo g = geoOf(geo);
    Path path = pathOf(g);
    if (path == Path::DEPTHWISE) {
        dwRun(kind, g, (const float*) a, (const float*) b, (const float*) bias, (float*) out, act);
        return;
    }
    char* w = (char*) ws;
    long long pre = actBytes(kind, g, act);
    if (pre) {  // act(x) into the workspace first: transient, never kept (Note [cpu workspace])
        const float* x = (const float*) a;
        float* ax = (float*) w;
        long n = (long) g.n() * g.c() * g.h() * g.w();
#pragma omp parallel for schedule(static) PARALLEL_IF(n)
        for (long i = 0; i < n; i++) ax[i] = actf(x[i], act);
        a = w;
        w += pre;
    }
    if (path == Path::GEMM_1X1) {
        gemmRun(kind, g, (const float*) a, (const float*) b, (const float*) bias, (float*) out, w);
        return;
    }
    Plan& p = plan(kind, g, bias != nullptr);
    int fwd[3] = {DNNL_ARG_SRC, DNNL_ARG_WEIGHTS, DNNL_ARG_DST};
    int bwdData[3] = {DNNL_ARG_DIFF_DST, DNNL_ARG_WEIGHTS, DNNL_ARG_DIFF_SRC};
    int bwdWeights[3] = {DNNL_ARG_SRC, DNNL_ARG_DIFF_DST, DNNL_ARG_DIFF_WEIGHTS};
    void* ptrs[3] = {a, b, out};
    execute(p, kind == 0 ? fwd : kind == 1 ? bwdData : bwdWeights, ptrs, bias, w);
}

std::string conv_impl(int kind, const int* geo, bool bias) {
    Geo g = geoOf(geo);
    switch (pathOf(g)) {
        case Path::GEMM_1X1: return "leanseg:gemm_1x1 (dnnl_sgemm, NCHW)";
        case Path::DEPTHWISE: return "leanseg:depthwise (NCHW, activation fused)";
        default: return plan(kind, g, bias).impl;
    }
}

}  // namespace leanseg_cpu
