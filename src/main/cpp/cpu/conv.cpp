// LeanSeg cpu backend: convolutions through oneDNN primitives (forward, backward data, backward
// weights) on plain NCHW / OIHW tensors in the planned arena. oneDNN picks its preferred (blocked)
// layouts ("any"); the reorders into and out of them and oneDNN's user-managed scratchpad all live in
// the workspace the caller passes, whose size conv_workspace() reports before anything runs, so the
// plan counts them (Note [cpu workspace] in backend/cpu/CpuBackend.java). Primitives are built once
// per geometry and cached. Checked by CpuOpsParityTest against the reference backend.
//
// Note [cpu 16-bit convolutions]: with 16-bit activations (Note [Mixed precision] in tensor/Precision)
// a convolution multiplies 16-bit operands (its float32 weights rounded to the activations' type) and
// accumulates in float32, as the reference backend emulates it. Two ways to run that, chosen per
// geometry when the primitive is built:
//  - native: oneDNN's own bf16 (or f16) primitive, where the CPU has the instructions for it
//    (avx512_core_bf16, avx512_core_amx, avx2_vnni_2, ...). Weights and the float32 weight gradient
//    are reordered as for float32; the primitive reads and writes 16-bit tensors.
//  - f32 compute on 16-bit storage: where oneDNN has no 16-bit primitive for this CPU (oneDNN 3.11 on
//    AVX2 alone, e.g. AMD Zen 3, creates none, not even a reference one) or only a reference one,
//    the float32 primitive runs on float32 staging copies: 16-bit activations converted to float32,
//    the weights rounded to the 16-bit type (kept in float32), the float32 result converted back to
//    16 bits (rounded to nearest-even), so the primitive multiplies the same rounded values as the
//    reference. The conversions are our own loops (stage()/unstage()), and only then does oneDNN's
//    float32 reorder move a staged tensor into the primitive's blocked layout: oneDNN's own reorders
//    between bf16 and f32 are its generic "simple:any" ones on AVX2, measured 25-45x slower than its
//    jit f32 reorder (2x96x64x64, 2 threads, 2026-12-07: 206-365 ms against 8 ms). The staging copies
//    are workspace like every reorder, so the plan counts them.
// conv_impl() names the path: oneDNN's implementation string, with " (f32 compute, bf16 storage)"
// appended on the second. So a 16-bit step reads half the activation memory, but on AVX2 its
// convolutions compute as float32 ones, plus the conversions.
#include "cpu.h"
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>
#include <algorithm>
#include <type_traits>

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

constexpr int GEO_LEN = 17;

// geometry: N C H W O kh kw sh sw ph pw dh dw G Ho Wo dt
struct Geo {
    int v[GEO_LEN];
    bool operator<(const Geo& o) const { return std::lexicographical_compare(v, v + GEO_LEN, o.v, o.v + GEO_LEN); }
    int n() const { return v[0]; } int c() const { return v[1]; } int h() const { return v[2]; } int w() const { return v[3]; }
    int o() const { return v[4]; } int kh() const { return v[5]; } int kw() const { return v[6]; }
    int g() const { return v[13]; } int ho() const { return v[14]; } int wo() const { return v[15]; }
    int dtCode() const { return v[16]; }
    dt act() const { return v[16] == DT_BF16 ? dt::bf16 : v[16] == DT_F16 ? dt::f16 : dt::f32; }
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
// where in the workspace its reordered copy lives when the two differ. Staged (f32 compute on 16-bit
// data, Note [cpu 16-bit convolutions]): a float32 plain copy at stageOffset sits between the user
// tensor and the primitive's layout; stageDt is the user's 16-bit type (activations: converted) or,
// with roundOnly, the type float32 weights are rounded to.
struct Arg {
    memory::desc user, prim, stage;
    bool reorder = false, staged = false, roundOnly = false;
    int stageDt = DT_F32;
    size_t offset = 0, stageOffset = 0;
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

int codeOf(dt t) { return t == dt::bf16 ? DT_BF16 : t == dt::f16 ? DT_F16 : DT_F32; }

// round: dt::undef, or the 16-bit type float32 weights are rounded to on their way to a float32 primitive.
void place(Plan& p, Arg& a, const memory::desc& user, const memory::desc& prim, bool in, bool out, dt round = dt::undef) {
    a.user = user;
    a.prim = prim;
    a.staged = (prim.get_data_type() == dt::f32 && user.get_data_type() != dt::f32) || round != dt::undef;
    memory::desc from = user;
    if (a.staged) {  // f32 compute on 16-bit data: a float32 plain copy, then oneDNN's f32 reorder where layouts differ
        a.roundOnly = round != dt::undef;
        a.stageDt = codeOf(a.roundOnly ? round : user.get_data_type());
        a.stage = memory::desc(user.get_dims(), dt::f32, user.get_strides());
        a.stageOffset = p.bytes;
        p.bytes += align64(a.stage.get_size());
        from = a.stage;
    }
    a.reorder = from != prim;
    if (a.reorder) {
        a.offset = p.bytes;
        p.bytes += align64(prim.get_size());
        if (in) a.toPrim.reset(new dnnl::reorder(reorder::primitive_desc(eng(), from, eng(), prim)));
        if (out) a.toUser.reset(new dnnl::reorder(reorder::primitive_desc(eng(), prim, eng(), from)));
    }
}

// The staging conversions (Note [cpu 16-bit convolutions]): 16-bit to float32, float32 to 16-bit
// (rounded to nearest-even), and float32 rounded to a 16-bit type but kept in float32.
template <class T>
void toF32(const void* in, float* out, long n) {
    const T* a = static_cast<const T*>(in);
#pragma omp parallel for simd schedule(static) if (n >= 32768L)
    for (long i = 0; i < n; i++) out[i] = ld(a[i]);
}
template <class T>
void fromF32(const float* in, void* out, long n) {
    T* a = static_cast<T*>(out);
#pragma omp parallel for simd schedule(static) if (n >= 32768L)
    for (long i = 0; i < n; i++) st(a[i], in[i]);
}
template <class T>
void roundF32(const void* in, float* out, long n) {
    const float* a = static_cast<const float*>(in);
#pragma omp parallel for simd schedule(static) if (n >= 32768L)
    for (long i = 0; i < n; i++) {
        T v;
        st(v, a[i]);
        out[i] = ld(v);
    }
}

long elements(const memory::desc& d) {
    long n = 1;
    for (auto v : d.get_dims()) n *= v;
    return n;
}

primitive_attr userScratch() {
    primitive_attr attr;
    attr.set_scratchpad_mode(scratchpad_mode::user);
    return attr;
}

memory::desc any(memory::dims d, dt t) { return memory::desc(d, t, tag::any); }

convolution_forward::primitive_desc forwardPd(const Geo& g, bool bias, dt c) {
    memory::desc b = bias ? memory::desc({g.o()}, dt::f32, tag::x) : memory::desc();
    return convolution_forward::primitive_desc(eng(), prop_kind::forward_training, algorithm::convolution_direct,
            any(g.src(), c), any(g.wei(), c), b, any(g.dst(), c), g.strides(), g.dil(), g.pads(), g.pads(), userScratch());
}

void finish(Plan& p, const memory::desc& scratch) {
    p.scratch = scratch;
    p.scratchBytes = scratch.get_size();
    p.scratchOffset = p.bytes;
    p.bytes += align64(p.scratchBytes);
}

// The plan of one primitive computing in type c (f32, or the activations' 16-bit type: native) on
// user tensors whose activations have the geometry's type.
std::unique_ptr<Plan> build(int kind, const Geo& g, bool bias, dt c) {
    dt a = g.act();
    auto act = [&](memory::dims d) { return memory::desc(d, a, tag::nchw); };
    memory::desc wei(g.wei(), dt::f32, g.weiTag());
    dt round = (c == dt::f32 && a != dt::f32) ? a : dt::undef;  // weights rounded to the 16-bit type first
    std::unique_ptr<Plan> p(new Plan());
    auto fpd = forwardPd(g, bias, c);
    if (kind == 0) {
        place(*p, p->a[0], act(g.src()), fpd.src_desc(), true, false);
        place(*p, p->a[1], wei, fpd.weights_desc(), true, false, round);
        place(*p, p->a[2], act(g.dst()), fpd.dst_desc(), false, true);
        p->bias = fpd.bias_desc();
        p->prim = convolution_forward(fpd);
        p->impl = fpd.impl_info_str();
        finish(*p, fpd.scratchpad_desc());
    } else if (kind == 1) {
        auto pd = convolution_backward_data::primitive_desc(eng(), algorithm::convolution_direct, any(g.src(), c), any(g.wei(), c),
                any(g.dst(), c), g.strides(), g.dil(), g.pads(), g.pads(), fpd, userScratch());
        place(*p, p->a[0], act(g.dst()), pd.diff_dst_desc(), true, false);
        place(*p, p->a[1], wei, pd.weights_desc(), true, false, round);
        place(*p, p->a[2], act(g.src()), pd.diff_src_desc(), false, true);
        p->prim = convolution_backward_data(pd);
        p->impl = pd.impl_info_str();
        finish(*p, pd.scratchpad_desc());
    } else {
        auto pd = convolution_backward_weights::primitive_desc(eng(), algorithm::convolution_direct, any(g.src(), c),
                any(g.wei(), dt::f32), any(g.dst(), c), g.strides(), g.dil(), g.pads(), g.pads(), fpd, userScratch());
        place(*p, p->a[0], act(g.src()), pd.src_desc(), true, false);
        place(*p, p->a[1], act(g.dst()), pd.diff_dst_desc(), true, false);
        place(*p, p->a[2], wei, pd.diff_weights_desc(), false, true);
        p->prim = convolution_backward_weights(pd);
        p->impl = pd.impl_info_str();
        finish(*p, pd.scratchpad_desc());
    }
    if (round != dt::undef) p->impl += std::string(" (f32 compute, ") + (a == dt::bf16 ? "bf16" : "f16") + " storage)";
    return p;
}

// Note [cpu 16-bit convolutions]: oneDNN's 16-bit primitive where it has a non-reference one, else f32 compute.
std::unique_ptr<Plan> build(int kind, const Geo& g, bool bias) {
    if (g.act() != dt::f32) {
        try {
            std::unique_ptr<Plan> native = build(kind, g, bias, g.act());
            if (native->impl.find("ref") == std::string::npos) return native;
        } catch (const dnnl::error&) {
            // no 16-bit primitive on this CPU
        }
    }
    return build(kind, g, bias, dt::f32);
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

// Runs one primitive: stages and reorders inputs into the workspace, runs, reorders and unstages the output.
void execute(Plan& p, int argIds[3], void* ptrs[3], void* bias, char* ws, const bool output[3]) {
    std::unordered_map<int, memory> args;
    memory prim[3];
    for (int i = 0; i < 3; i++) {
        Arg& a = p.a[i];
        float* stage = a.staged ? reinterpret_cast<float*>(ws + a.stageOffset) : nullptr;
        if (a.staged && !output[i]) {
            long n = elements(a.user);
            if (a.roundOnly) LS_DISPATCH(a.stageDt, roundF32, ptrs[i], stage, n);
            else LS_DISPATCH(a.stageDt, toF32, ptrs[i], stage, n);
        }
        memory from = a.staged ? mem(a.stage, stage) : mem(a.user, ptrs[i]);
        if (a.reorder) {
            prim[i] = mem(a.prim, ws + a.offset);
            if (a.toPrim) {
                a.toPrim->execute(strm(), from, prim[i]);
            }
        } else {
            prim[i] = from;
        }
        args.insert({argIds[i], prim[i]});
    }
    if (bias) args.insert({DNNL_ARG_BIAS, mem(p.bias, bias)});
    if (p.scratchBytes) args.insert({DNNL_ARG_SCRATCHPAD, mem(p.scratch, ws + p.scratchOffset)});
    p.prim.execute(strm(), args);
    for (int i = 0; i < 3; i++) {
        Arg& a = p.a[i];
        if (!output[i]) continue;
        if (a.toUser) {
            memory to = a.staged ? mem(a.stage, ws + a.stageOffset) : mem(a.user, ptrs[i]);
            a.toUser->execute(strm(), prim[i], to);
        }
        if (a.staged) {
            strm().wait();
            LS_DISPATCH(a.stageDt, fromF32, reinterpret_cast<float*>(ws + a.stageOffset), ptrs[i], elements(a.user));
        }
    }
    strm().wait();
}

// ---- Note [Per-tap filter gradient] -----------------------------------------------------------
// The filter gradient of a dilated dense convolution (the ASPP's 3x3 convs at rates 6-18 on 16x16
// maps) is where oneDNN falls back to its im2col GEMM, whose scratch holds the whole im2col matrix
// of the batch: 180 MiB for Xception-65's 2048-channel ASPP at 2x256², the largest workspace of the
// step, so the planned peak's. Here each tap is one GEMM instead:
//   dW[:, :, ki, kj] = sum_n dy[n] (O x P) . shift_{ki,kj}(x[n])^T (P x C),   P = Ho * Wo,
// with shift_{ki,kj}(x[n]) gathered (zeros where the tap falls into the padding) into a C x P
// buffer, and the O x C result scattered into the OIHW gradient. Workspace: those two buffers
// (4 * (C * P + O * C) bytes, 4 MiB for that ASPP conv), plus with 16-bit activations dy converted
// to float32 (4 * N * O * P bytes; x converts as it is gathered). A tap that never touches the map gets zero.
// Same FLOPs as the im2col GEMM; images and taps are summed in a fixed order (repeatable).
// perTapFilter() says where it runs.
// Output rows (or columns) [lo, hi) whose input index out * stride - pad + tap * dil lies in [0, size).
void validRange(long outSize, long size, long stride, long pad, long tapOffset, long& lo, long& hi) {
    long off = tapOffset - pad;
    lo = off >= 0 ? 0 : (-off + stride - 1) / stride;
    hi = (size - 1 - off) < 0 ? 0 : std::min(outSize, (size - 1 - off) / stride + 1);
    if (hi < lo) hi = lo;
}

// Whether some tap of the kernel reads only padding (a dilation as large as the map).
bool someTapOutside(const Geo& g) {
    for (long ki = 0; ki < g.kh(); ki++) {
        long lo, hi;
        validRange(g.ho(), g.h(), g.v[7], g.v[9], ki * g.v[11], lo, hi);
        if (lo == hi) return true;
    }
    for (long kj = 0; kj < g.kw(); kj++) {
        long lo, hi;
        validRange(g.wo(), g.w(), g.v[8], g.v[10], kj * g.v[12], lo, hi);
        if (lo == hi) return true;
    }
    return false;
}

// Per tap where oneDNN would run its im2col GEMM (measured 2026-12-07, 2 threads, Xception-65's ASPP
// at 2x256²: rate 12 37.3 -> 30.5 ms and 180 -> 4 MiB, rate 18 33.6 -> 4.3 ms) or where taps read
// only padding; oneDNN's direct kernel stays where it has one (rate 6: 20.6 ms, per tap 28.5 ms).
bool perTapFilter(int kind, const Geo& g) {
    if (kind != 2 || g.g() != 1 || (g.v[11] == 1 && g.v[12] == 1)) return false;
    return someTapOutside(g) || plan(kind, g, false).impl.find("gemm") != std::string::npos;
}

long long perTapBytes(const Geo& g) {
    long p = (long) g.ho() * g.wo();
    size_t dyBytes = g.act() == dt::f32 ? 0 : align64(4L * g.n() * g.o() * p);
    return (long long) (align64(4L * g.c() * p) + align64(4L * g.o() * g.c()) + dyBytes);
}

template <class T>
void perTapRun(const Geo& g, const T* x, const T* dyIn, float* dw, char* ws) {
    const int* v = g.v;
    long n = g.n(), c = g.c(), h = g.h(), w = g.w(), o = g.o(), kh = g.kh(), kw = g.kw();
    long sh = v[7], sw = v[8], ph = v[9], pw = v[10], dh = v[11], dwl = v[12], ho = g.ho(), wo = g.wo(), p = ho * wo;
    float* col = reinterpret_cast<float*>(ws);
    float* tap = reinterpret_cast<float*>(ws + align64(4L * c * p));
    const float* dy = reinterpret_cast<const float*>(dyIn);
    if (!std::is_same<T, float>::value) {
        float* conv = reinterpret_cast<float*>(ws + align64(4L * c * p) + align64(4L * o * c));
#pragma omp parallel for schedule(static)
        for (long i = 0; i < n * o * p; i++) conv[i] = ld(dyIn[i]);
        dy = conv;
    }
    std::fill(dw, dw + o * c * kh * kw, 0.0f);
    for (long ki = 0; ki < kh; ki++) {
        for (long kj = 0; kj < kw; kj++) {
            long r0, r1, q0, q1;
            validRange(ho, h, sh, ph, ki * dh, r0, r1);
            validRange(wo, w, sw, pw, kj * dwl, q0, q1);
            if (r0 == r1 || q0 == q1) continue;  // the tap reads only padding: its gradient is 0
            for (long img = 0; img < n; img++) {
#pragma omp parallel for schedule(static)
                for (long ch = 0; ch < c; ch++) {
                    const T* in = x + (img * c + ch) * h * w;
                    float* dst = col + ch * p;
                    std::fill(dst, dst + p, 0.0f);
                    for (long r = r0; r < r1; r++) {
                        const T* row = in + (r * sh - ph + ki * dh) * w;
                        for (long q = q0; q < q1; q++) dst[r * wo + q] = ld(row[q * sw - pw + kj * dwl]);
                    }
                }
                dnnl_status_t st = dnnl_sgemm('N', 'T', o, c, p, 1.0f, dy + img * o * p, p, col, p, img == 0 ? 0.0f : 1.0f, tap, c);
                if (st != dnnl_success) throw dnnl::error(st, "dnnl_sgemm");
            }
#pragma omp parallel for schedule(static)
            for (long oc = 0; oc < o; oc++)
                for (long ch = 0; ch < c; ch++) dw[((oc * c + ch) * kh + ki) * kw + kj] = tap[oc * c + ch];
        }
    }
}

template <class T>
void perTapRunOn(const Geo& g, void* x, void* dy, float* dw, char* ws) {
    perTapRun<T>(g, static_cast<const T*>(x), static_cast<const T*>(dy), dw, ws);
}

Geo geoOf(const int* geo) {
    Geo g;
    std::copy(geo, geo + GEO_LEN, g.v);
    return g;
}

}  // namespace

long long conv_workspace(int kind, const int* geo, bool bias) {
    Geo g = geoOf(geo);
    if (perTapFilter(kind, g)) return perTapBytes(g);
    return (long long) plan(kind, g, bias).bytes;
}

void conv_run(int kind, const int* geo, void* a, void* b, void* bias, void* out, void* ws) {
    Geo g = geoOf(geo);
    if (perTapFilter(kind, g)) {
        LS_DISPATCH(g.dtCode(), perTapRunOn, g, a, b, (float*) out, (char*) ws);
        return;
    }
    Plan& p = plan(kind, g, bias != nullptr);
    int fwd[3] = {DNNL_ARG_SRC, DNNL_ARG_WEIGHTS, DNNL_ARG_DST};
    int bwdData[3] = {DNNL_ARG_DIFF_DST, DNNL_ARG_WEIGHTS, DNNL_ARG_DIFF_SRC};
    int bwdWeights[3] = {DNNL_ARG_SRC, DNNL_ARG_DIFF_DST, DNNL_ARG_DIFF_WEIGHTS};
    void* ptrs[3] = {a, b, out};
    const bool output[3] = {false, false, true};
    execute(p, kind == 0 ? fwd : kind == 1 ? bwdData : bwdWeights, ptrs, bias, (char*) ws, output);
}

std::string conv_impl(int kind, const int* geo, bool bias) {
    Geo g = geoOf(geo);
    if (perTapFilter(kind, g)) return "leanseg:per_tap_gemm";
    return plan(kind, g, bias).impl;
}

}  // namespace leanseg_cpu
