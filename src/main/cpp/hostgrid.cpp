// Host runs of the norm kernels of src/main/cuda/norm.cu over the same grids as on the GPU (Note [Kernel bodies
// on two machines] in grid.cuh; hostgrid.h runs the blocks and their threads as fibers). JNI entry points of
// org.leanseg.backend.cuda.HostMath (norm*, planeAffine, gnGradFinish), one per kernel, taking the grid the Java
// side decided (NormGrid). HostKernelGridTest drives them through the same NormSteps sequences as the GPU.
//
// Every array is copied into a fresh 64-byte aligned native block between two guard zones of NaN; after the
// launch the guards are checked (a write outside the array is an error) and the data copied back. A read
// outside the array reads NaN, which the test sees in the results. An array passed twice is copied once (so
// in-place calls alias as on the GPU). The reductions' counters must be 0 again after each launch.
#include <jni.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "hostgrid.h"
#include "dw.cuh"
#include "resize_grid.cuh"
#include "upsample_loss.cuh"
#include "norm.cuh"

namespace {

constexpr int GUARD = 16;  // floats of NaN on each side

class Pins {
 public:
  explicit Pins(JNIEnv* env) : env_(env) {}
  ~Pins() {
    for (auto& p : pins_) std::free(p.block);
  }
  Pins(const Pins&) = delete;
  Pins& operator=(const Pins&) = delete;

  float* get(jfloatArray a) {
    if (!a) return nullptr;
    for (auto& p : pins_)
      if (env_->IsSameObject(p.array, a)) return p.block + GUARD;
    jsize n = env_->GetArrayLength(a);
    size_t bytes = ((sizeof(float) * (n + 2 * GUARD) + 63) / 64) * 64;
    float* block = static_cast<float*>(std::aligned_alloc(64, bytes));
    for (int i = 0; i < GUARD; i++) block[i] = block[GUARD + n + i] = NAN;
    env_->GetFloatArrayRegion(a, 0, n, block + GUARD);
    pins_.push_back({a, block, n});
    return block + GUARD;
  }

  // Elements of the pinned array at p.
  jsize length(const float* p) const {
    for (auto& q : pins_)
      if (q.block + GUARD == p) return q.n;
    throw std::runtime_error("not a pinned array");
  }

  // Checks the guards and copies every array back; throws on a write outside an array.
  void finish() {
    for (size_t k = 0; k < pins_.size(); k++) {
      auto& p = pins_[k];
      for (int i = 0; i < GUARD; i++) {
        uint32_t lo, hi;
        std::memcpy(&lo, p.block + i, 4);
        std::memcpy(&hi, p.block + GUARD + p.n + i, 4);
        uint32_t nan;
        float q = NAN;
        std::memcpy(&nan, &q, 4);
        if (lo != nan || hi != nan) {
          throw std::runtime_error("array " + std::to_string(k) + " of " + std::to_string(p.n) +
                                   " floats: written outside its bounds");
        }
      }
      env_->SetFloatArrayRegion(p.array, 0, p.n, p.block + GUARD);
    }
  }

 private:
  struct Pin {
    jfloatArray array;
    float* block;
    jsize n;
  };
  JNIEnv* env_;
  std::vector<Pin> pins_;
};

// Note [16-bit norm kernels] on the host: copies of pinned float arrays in 16-bit storage type dt (each array once,
// so in-place calls alias as on the GPU), between guards of 0xffff; finish() checks the guards and widens the values
// back into the float arrays (exactly). With dt = 0 the float arrays themselves are used.
class Halves {
 public:
  Halves(const Pins& pins, int dt) : pins_(pins), dt_(dt) {}

  void* of(float* p) {
    if (!p || dt_ == LS_F32) return p;
    for (auto& h : halves_)
      if (h.f == p) return h.bits.data() + GUARD;
    jsize n = pins_.length(p);
    Half h{p, n, std::vector<uint16_t>(n + 2 * GUARD, 0xffff)};
    for (jsize i = 0; i < n; i++) ls_store(h.bits.data() + GUARD, dt_, i, p[i]);
    halves_.push_back(std::move(h));
    return halves_.back().bits.data() + GUARD;
  }

  void finish() {
    for (auto& h : halves_) {
      for (int i = 0; i < GUARD; i++) {
        if (h.bits[i] != 0xffff || h.bits[GUARD + h.n + i] != 0xffff) {
          throw std::runtime_error("16-bit array of " + std::to_string(h.n) + " values: written outside its bounds");
        }
      }
      for (jsize i = 0; i < h.n; i++) h.f[i] = ls_load(h.bits.data() + GUARD, dt_, i);
    }
  }

 private:
  struct Half {
    float* f;
    jsize n;
    std::vector<uint16_t> bits;
  };
  const Pins& pins_;
  int dt_;
  std::vector<Half> halves_;
};

void throwJava(JNIEnv* env, const std::string& msg) {
  jclass c = env->FindClass("java/lang/IllegalStateException");
  if (c) env->ThrowNew(c, msg.c_str());
}

// geom = {sets, chunks, planes, hw, segLen, segs, setStride, planeStride, vec, gridX, gridY}
struct Launch {
  LsRedGeom g;
  int gx, gy;
};

Launch launchOf(JNIEnv* env, jlongArray jgeom) {
  jlong v[11];
  env->GetLongArrayRegion(jgeom, 0, 11, v);
  return Launch{{(int)v[0], (int)v[1], (int)v[2], (int)v[3], (int)v[4], (int)v[5], v[6], v[7], (int)v[8]}, (int)v[9], (int)v[10]};
}

// Counters and partials of one reduction launch; the counters must be back at 0 afterwards.
struct Scratch {
  std::vector<unsigned> counters;
  std::vector<float> partials;
  explicit Scratch(const LsRedGeom& g) : counters(g.sets, 0u), partials(2 * (size_t)g.sets * g.chunks + 1, NAN) {}
  void check() const {
    for (size_t i = 0; i < counters.size(); i++) {
      if (counters[i] != 0) {
        throw std::runtime_error("counter of set " + std::to_string(i) + " is " + std::to_string(counters[i]) +
                                 " after the launch (the last block did not reset it)");
      }
    }
  }
};

// geom = the LsDwGrid fields in order (DwGrid.args), then grid x and grid y
struct DwLaunch {
  LsDwGrid g;
  int gx, gy;
};

DwLaunch dwLaunchOf(JNIEnv* env, jlongArray jgeom) {
  constexpr int F = 25;
  if (env->GetArrayLength(jgeom) != F + 2) throw std::runtime_error("depthwise geometry: expected " + std::to_string(F + 2) + " values");
  jlong v[F + 2];
  env->GetLongArrayRegion(jgeom, 0, F + 2, v);
  int f[F];
  for (int i = 0; i < F; i++) f[i] = (int)v[i];
  LsDwGrid g{f[0], f[1], f[2], f[3], f[4], f[5], f[6], f[7], f[8], f[9], f[10], f[11], f[12], f[13], f[14], f[15], f[16],
             f[17], f[18], f[19], f[20], f[21], f[22], f[23], f[24]};
  return DwLaunch{g, (int)v[F], (int)v[F + 1]};
}

// geom = the LsUpCeGrid fields in order (UpLossGrid.args)
LsUpCeGrid upCeGridOf(JNIEnv* env, jlongArray jgeom) {
  constexpr int F = 14;
  if (env->GetArrayLength(jgeom) != F) throw std::runtime_error("fused loss geometry: expected " + std::to_string(F) + " values");
  jlong v[F];
  env->GetLongArrayRegion(jgeom, 0, F, v);
  int f[F];
  for (int i = 0; i < F; i++) f[i] = (int)v[i];
  return LsUpCeGrid{f[0], f[1], f[2], f[3], f[4], f[5], f[6], f[7], f[8], f[9], f[10], f[11], f[12], f[13]};
}

// Runs one host launch for a JNI entry point: body(pins) pins the arrays and launches; the arrays are checked and
// copied back after it; any failure becomes an IllegalStateException naming the kernel.
template <class Body>
void hostRun(JNIEnv* env, const char* kernel, Body body) {
  try {
    Pins pins(env);
    body(pins);
    pins.finish();
  } catch (const std::exception& e) {
    throwJava(env, std::string(kernel) + " on the host: " + e.what());
  }
}

}  // namespace

extern "C" {

JNIEXPORT void JNICALL Java_org_leanseg_backend_cuda_HostMath_normStats(JNIEnv* env, jclass, jlongArray jgeom, jfloatArray jx,
                                                                        jfloatArray jmean, jfloatArray jinvStd,
                                                                        jfloatArray jrunMean, jfloatArray jrunVar, jdouble eps,
                                                                        jdouble momentum, jlong schedule, jint dt) {
  hostRun(env, "ls_norm_stats_k", [&](Pins& pins) {
    Launch l = launchOf(env, jgeom);
    Halves halves(pins, dt);
    const void* x = halves.of(pins.get(jx));
    float* mean = pins.get(jmean);
    float* invStd = pins.get(jinvStd);
    float* runMean = pins.get(jrunMean);
    float* runVar = pins.get(jrunVar);
    Scratch sc(l.g);
    ls_host_launch<LsRedShared>(l.gx, l.gy, LS_NORM_BLOCK, LsSchedule{(uint64_t)schedule}, [&](const LsHostThread& t, LsRedShared& sh) {
      ls_norm_stats_body(t, sh, l.g, x, dt, mean, invStd, runMean, runVar, eps, momentum, sc.partials.data(), sc.counters.data());
    });
    sc.check();
    halves.finish();
  });
}

JNIEXPORT void JNICALL Java_org_leanseg_backend_cuda_HostMath_normGrad(JNIEnv* env, jclass, jlongArray jgeom, jint kind, jint C,
                                                                       jint groups, jfloatArray jv, jfloatArray jdy,
                                                                       jfloatArray jp0, jfloatArray jp1, jdouble eps,
                                                                       jfloatArray jout0, jfloatArray jout1, jlong schedule, jint dt) {
  hostRun(env, "ls_norm_grad_k", [&](Pins& pins) {
    Launch l = launchOf(env, jgeom);
    Halves halves(pins, dt);
    const void* v = halves.of(pins.get(jv));
    const void* dy = halves.of(pins.get(jdy));
    float* p0 = pins.get(jp0);
    float* p1 = pins.get(jp1);
    float* out0 = pins.get(jout0);
    float* out1 = pins.get(jout1);
    Scratch sc(l.g);
    ls_host_launch<LsRedShared>(l.gx, l.gy, LS_NORM_BLOCK, LsSchedule{(uint64_t)schedule}, [&](const LsHostThread& t, LsRedShared& sh) {
      ls_norm_grad_body(t, sh, l.g, kind, C, groups, v, dy, dt, p0, p1, eps, out0, out1, sc.partials.data(), sc.counters.data());
    });
    sc.check();
    halves.finish();
  });
}

JNIEXPORT void JNICALL Java_org_leanseg_backend_cuda_HostMath_gnGradFinish(JNIEnv* env, jclass, jint N, jint C, jint groups,
                                                                           jint hw, jfloatArray jgamma, jfloatArray jplaneDy,
                                                                           jfloatArray jplaneDyXhat, jfloatArray jdGamma,
                                                                           jfloatArray jdBeta, jfloatArray jgs, jlong schedule) {
  hostRun(env, "ls_gn_grad_finish_k", [&](Pins& pins) {
    float* gamma = pins.get(jgamma);
    float* planeDy = pins.get(jplaneDy);
    float* planeDyXhat = pins.get(jplaneDyXhat);
    float* dGamma = pins.get(jdGamma);
    float* dBeta = pins.get(jdBeta);
    float* gs = pins.get(jgs);
    ls_host_launch<LsNoShared>(1, 1, LS_NORM_BLOCK, LsSchedule{(uint64_t)schedule}, [&](const LsHostThread& t, LsNoShared&) {
      ls_gn_grad_finish_body(t, N, C, groups, hw, gamma, planeDy, planeDyXhat, dGamma, dBeta, gs);
    });
  });
}

JNIEXPORT void JNICALL Java_org_leanseg_backend_cuda_HostMath_planeAffine(
    JNIEnv* env, jclass, jint kind, jint planes, jint C, jint hw, jint groups, jlong perSet, jboolean vec, jfloatArray ju,
    jfloatArray jv, jfloatArray jout, jfloatArray jp0, jfloatArray jp1, jfloatArray jp2, jfloatArray jp3, jfloatArray jp4,
    jdouble eps, jint gx, jint gy, jlong schedule, jint dt) {
  hostRun(env, "ls_plane_affine_k", [&](Pins& pins) {
    Halves halves(pins, dt);
    const void* u = halves.of(pins.get(ju));
    const void* v = halves.of(pins.get(jv));
    void* out = halves.of(pins.get(jout));
    float* p0 = pins.get(jp0);
    float* p1 = pins.get(jp1);
    float* p2 = pins.get(jp2);
    float* p3 = pins.get(jp3);
    float* p4 = pins.get(jp4);
    ls_host_launch<LsNoShared>(gx, gy, LS_NORM_BLOCK, LsSchedule{(uint64_t)schedule}, [&](const LsHostThread& t, LsNoShared&) {
      ls_plane_affine_body(t, kind, planes, C, hw, groups, perSet, vec ? 1 : 0, u, v, out, dt, p0, p1, p2, p3, p4, eps);
    });
    halves.finish();
  });
}

JNIEXPORT void JNICALL Java_org_leanseg_backend_cuda_HostMath_dwForward(JNIEnv* env, jclass, jlongArray jgeom, jfloat cap,
                                                                        jfloatArray jz, jfloatArray jw, jfloatArray jbias,
                                                                        jfloatArray jy, jlong schedule, jint dt) {
  hostRun(env, "ls_dw_forward_k", [&](Pins& pins) {
    DwLaunch l = dwLaunchOf(env, jgeom);
    Halves halves(pins, dt);
    const void* z = halves.of(pins.get(jz));
    float* w = pins.get(jw);
    float* bias = pins.get(jbias);
    void* y = halves.of(pins.get(jy));
    ls_host_launch<LsDwTileShared>(l.gx, l.gy, LS_DW_BLOCK, LsSchedule{(uint64_t)schedule},
                                   [&](const LsHostThread& t, LsDwTileShared& sh) { ls_dw_forward_body(t, sh, l.g, cap, z, w, bias, y, dt); });
    halves.finish();
  });
}

JNIEXPORT void JNICALL Java_org_leanseg_backend_cuda_HostMath_dwBackwardData(JNIEnv* env, jclass, jlongArray jgeom,
                                                                             jfloatArray jdy, jfloatArray jw, jfloatArray jdx,
                                                                             jlong schedule, jint dt) {
  hostRun(env, "ls_dw_backward_data_k", [&](Pins& pins) {
    DwLaunch l = dwLaunchOf(env, jgeom);
    Halves halves(pins, dt);
    const void* dy = halves.of(pins.get(jdy));
    float* w = pins.get(jw);
    void* dx = halves.of(pins.get(jdx));
    ls_host_launch<LsDwTileShared>(l.gx, l.gy, LS_DW_BLOCK, LsSchedule{(uint64_t)schedule},
                                   [&](const LsHostThread& t, LsDwTileShared& sh) { ls_dw_backward_data_body(t, sh, l.g, dy, w, dx, dt); });
    halves.finish();
  });
}

JNIEXPORT void JNICALL Java_org_leanseg_backend_cuda_HostMath_dwFilter(JNIEnv* env, jclass, jlongArray jgeom, jfloat cap,
                                                                       jfloatArray jz, jfloatArray jdy, jfloatArray jdW,
                                                                       jlong schedule, jint dt) {
  hostRun(env, "ls_dw_filter_k", [&](Pins& pins) {
    DwLaunch l = dwLaunchOf(env, jgeom);
    Halves halves(pins, dt);
    const void* z = halves.of(pins.get(jz));
    const void* dy = halves.of(pins.get(jdy));
    float* dW = pins.get(jdW);
    int sets = l.g.C * l.g.mult;
    std::vector<unsigned> counters(sets, 0u);
    std::vector<float> partials((size_t)LS_DW_TAPS * sets * l.g.chunks + 1, NAN);
    ls_host_launch<LsDwFilterShared>(l.gx, l.gy, LS_DW_BLOCK, LsSchedule{(uint64_t)schedule}, [&](const LsHostThread& t, LsDwFilterShared& sh) {
      ls_dw_filter_body(t, sh, l.g, cap, z, dy, dW, partials.data(), counters.data(), dt);
    });
    for (int i = 0; i < sets; i++) {
      if (counters[i] != 0) {
        throw std::runtime_error("counter of channel " + std::to_string(i) + " is " + std::to_string(counters[i]) +
                                 " after the launch (the last block did not reset it)");
      }
    }
    halves.finish();
  });
}

JNIEXPORT jlong JNICALL Java_org_leanseg_backend_cuda_HostMath_upCePartial(JNIEnv* env, jclass, jlongArray jgeom, jfloatArray jz,
                                                                           jfloatArray jlabels, jfloatArray jweights,
                                                                           jdoubleArray jpartials, jlong schedule, jint dt) {
  unsigned long long bad = ~0ULL;
  hostRun(env, "ls_up_ce_partial_k", [&](Pins& pins) {
    LsUpCeGrid g = upCeGridOf(env, jgeom);
    Halves halves(pins, dt);
    const void* z = halves.of(pins.get(jz));
    float* labels = pins.get(jlabels);
    float* weights = pins.get(jweights);
    std::vector<double> partials(2 * (size_t)g.rowBlocks, NAN);
    ls_host_launch<LsUpCeFwdShared>(g.rowBlocks, 1, LS_UPCE_BLOCK, LsSchedule{(uint64_t)schedule}, [&](const LsHostThread& t, LsUpCeFwdShared& sh) {
      ls_upce_partial_body(t, sh, g, z, labels, weights, partials.data(), &bad, dt);
    });
    halves.finish();
    env->SetDoubleArrayRegion(jpartials, 0, 2 * g.rowBlocks, partials.data());
  });
  return bad == ~0ULL ? -1 : (jlong)bad;
}

JNIEXPORT void JNICALL Java_org_leanseg_backend_cuda_HostMath_upCeBackward(JNIEnv* env, jclass, jlongArray jgeom, jfloatArray jz,
                                                                           jfloatArray jlabels, jfloatArray jweights, jfloat dLoss,
                                                                           jdouble total, jfloatArray jdz, jlong schedule, jint dt) {
  hostRun(env, "ls_up_ce_backward_k", [&](Pins& pins) {
    LsUpCeGrid g = upCeGridOf(env, jgeom);
    Halves halves(pins, dt);
    const void* z = halves.of(pins.get(jz));
    float* labels = pins.get(jlabels);
    float* weights = pins.get(jweights);
    void* dz = halves.of(pins.get(jdz));
    double result[2] = {0, total};
    float dl = dLoss;
    ls_host_launch<LsUpCeBwdShared>(g.h * g.segs, g.N * g.groups, LS_UPCE_BLOCK, LsSchedule{(uint64_t)schedule},
                                    [&](const LsHostThread& t, LsUpCeBwdShared& sh) {
                                      ls_upce_backward_body(t, sh, g, z, labels, weights, &dl, result, dz, dt);
                                    });
    halves.finish();
  });
}

JNIEXPORT void JNICALL Java_org_leanseg_backend_cuda_HostMath_upArgmax(JNIEnv* env, jclass, jlongArray jgeom, jfloatArray jz,
                                                                       jfloatArray jout, jint gridX, jlong schedule, jint dt) {
  hostRun(env, "ls_up_argmax_k", [&](Pins& pins) {
    LsUpCeGrid g = upCeGridOf(env, jgeom);
    Halves halves(pins, dt);
    const void* z = halves.of(pins.get(jz));
    float* out = pins.get(jout);
    ls_host_launch<LsNoShared>(gridX, 1, LS_UPCE_BLOCK, LsSchedule{(uint64_t)schedule},
                               [&](const LsHostThread& t, LsNoShared&) { ls_upce_argmax_body(t, g, z, out, dt); });
    halves.finish();
  });
}

JNIEXPORT void JNICALL Java_org_leanseg_backend_cuda_HostMath_resizeRows(JNIEnv* env, jclass, jboolean backward, jint planes, jint inH,
                                                                         jint inW, jint outH, jint outW, jboolean alignCorners,
                                                                         jfloatArray jsrc, jfloatArray jdst, jint maxGridY,
                                                                         jlong schedule, jint dt) {
  hostRun(env, backward ? "ls_resize_backward_rows_k" : "ls_resize_rows_k", [&](Pins& pins) {
    Halves halves(pins, dt);
    const void* src = halves.of(pins.get(jsrc));
    void* dst = halves.of(pins.get(jdst));
    int gy = maxGridY > 0 && maxGridY < planes ? maxGridY : (planes < 65535 ? planes : 65535);
    int ac = alignCorners ? 1 : 0;
    if (backward) {
      ls_host_launch<LsResizeBwdShared>(inH, gy, LS_RS_BLOCK, LsSchedule{(uint64_t)schedule}, [&](const LsHostThread& t, LsResizeBwdShared& sh) {
        ls_resize_bwd_body(t, sh, planes, inH, inW, outH, outW, ac, src, dst, dt);
      });
    } else {
      ls_host_launch<LsResizeFwdShared>((outH + LS_RS_ROWS - 1) / LS_RS_ROWS, gy, LS_RS_BLOCK, LsSchedule{(uint64_t)schedule},
                                        [&](const LsHostThread& t, LsResizeFwdShared& sh) {
                                          ls_resize_fwd_body(t, sh, planes, inH, inW, outH, outW, ac, src, dst, dt);
                                        });
    }
    halves.finish();
  });
}

// Walks i = start, start + stride, ... for `steps` steps with LsDivWalk (and the (n, c) walk of ls_copy_channels_k
// over the quotient), counting the steps where a walk disagrees with plain division.
JNIEXPORT jlong JNICALL Java_org_leanseg_backend_cuda_HostMath_divWalkMismatches(JNIEnv*, jclass, jlong start, jlong stride, jlong d,
                                                                                 jlong d2, jint steps) {
  LsDivWalk p(start, stride, d);
  LsDivWalk nc(p.q, p.dq, d2);
  long long bad = 0;
  long long i = start;
  for (int s = 0; s < steps; s++, i += stride) {
    long long q = i / d;
    if (p.q != q || p.r != i % d || nc.q != q / d2 || nc.r != q % d2) bad++;
    bool carry = p.next();
    nc.next();
    if (carry) nc.inc();
  }
  return bad;
}

}  // extern "C"
