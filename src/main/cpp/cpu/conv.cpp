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

}  // namespace

long long conv_workspace(int kind, const int* geo, bool bias) {
    Geo g;
    std::copy(geo, geo + 16, g.v);
    return (long long) plan(kind, g, bias).bytes;
}

void conv_run(int kind, const int* geo, void* a, void* b, void* bias, void* out, void* ws) {
    Geo g;
    std::copy(geo, geo + 16, g.v);
    Plan& p = plan(kind, g, bias != nullptr);
    int fwd[3] = {DNNL_ARG_SRC, DNNL_ARG_WEIGHTS, DNNL_ARG_DST};
    int bwdData[3] = {DNNL_ARG_DIFF_DST, DNNL_ARG_WEIGHTS, DNNL_ARG_DIFF_SRC};
    int bwdWeights[3] = {DNNL_ARG_SRC, DNNL_ARG_DIFF_DST, DNNL_ARG_DIFF_WEIGHTS};
    void* ptrs[3] = {a, b, out};
    execute(p, kind == 0 ? fwd : kind == 1 ? bwdData : bwdWeights, ptrs, bias, (char*) ws);
}

std::string conv_impl(int kind, const int* geo, bool bias) {
    Geo g;
    std::copy(geo, geo + 16, g.v);
    Plan& p = plan(kind, g, bias);
    return p.impl;
}

}  // namespace leanseg_cpu
