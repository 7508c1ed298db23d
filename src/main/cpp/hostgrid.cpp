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

}  // namespace

extern "C" {

JNIEXPORT void JNICALL Java_org_leanseg_backend_cuda_HostMath_normStats(JNIEnv* env, jclass, jlongArray jgeom, jfloatArray jx,
                                                                        jfloatArray jmean, jfloatArray jinvStd,
                                                                        jfloatArray jrunMean, jfloatArray jrunVar, jdouble eps,
                                                                        jdouble momentum, jlong schedule) {
  try {
    Launch l = launchOf(env, jgeom);
    Pins pins(env);
    float* x = pins.get(jx);
    float* mean = pins.get(jmean);
    float* invStd = pins.get(jinvStd);
    float* runMean = pins.get(jrunMean);
    float* runVar = pins.get(jrunVar);
    Scratch sc(l.g);
    ls_host_launch<LsRedShared>(l.gx, l.gy, LS_NORM_BLOCK, LsSchedule{(uint64_t)schedule}, [&](const LsHostThread& t, LsRedShared& sh) {
      ls_norm_stats_body(t, sh, l.g, x, mean, invStd, runMean, runVar, eps, momentum, sc.partials.data(), sc.counters.data());
    });
    sc.check();
    pins.finish();
  } catch (const std::exception& e) {
    throwJava(env, std::string("ls_norm_stats_k on the host: ") + e.what());
  }
}

JNIEXPORT void JNICALL Java_org_leanseg_backend_cuda_HostMath_normGrad(JNIEnv* env, jclass, jlongArray jgeom, jint kind, jint C,
                                                                       jint groups, jfloatArray jv, jfloatArray jdy,
                                                                       jfloatArray jp0, jfloatArray jp1, jdouble eps,
                                                                       jfloatArray jout0, jfloatArray jout1, jlong schedule) {
  try {
    Launch l = launchOf(env, jgeom);
    Pins pins(env);
    float* v = pins.get(jv);
    float* dy = pins.get(jdy);
    float* p0 = pins.get(jp0);
    float* p1 = pins.get(jp1);
    float* out0 = pins.get(jout0);
    float* out1 = pins.get(jout1);
    Scratch sc(l.g);
    ls_host_launch<LsRedShared>(l.gx, l.gy, LS_NORM_BLOCK, LsSchedule{(uint64_t)schedule}, [&](const LsHostThread& t, LsRedShared& sh) {
      ls_norm_grad_body(t, sh, l.g, kind, C, groups, v, dy, p0, p1, eps, out0, out1, sc.partials.data(), sc.counters.data());
    });
    sc.check();
    pins.finish();
  } catch (const std::exception& e) {
    throwJava(env, std::string("ls_norm_grad_k on the host: ") + e.what());
  }
}

JNIEXPORT void JNICALL Java_org_leanseg_backend_cuda_HostMath_gnGradFinish(JNIEnv* env, jclass, jint N, jint C, jint groups,
                                                                           jint hw, jfloatArray jgamma, jfloatArray jplaneDy,
                                                                           jfloatArray jplaneDyXhat, jfloatArray jdGamma,
                                                                           jfloatArray jdBeta, jfloatArray jgs, jlong schedule) {
  try {
    Pins pins(env);
    float* gamma = pins.get(jgamma);
    float* planeDy = pins.get(jplaneDy);
    float* planeDyXhat = pins.get(jplaneDyXhat);
    float* dGamma = pins.get(jdGamma);
    float* dBeta = pins.get(jdBeta);
    float* gs = pins.get(jgs);
    ls_host_launch<LsNoShared>(1, 1, LS_NORM_BLOCK, LsSchedule{(uint64_t)schedule}, [&](const LsHostThread& t, LsNoShared&) {
      ls_gn_grad_finish_body(t, N, C, groups, hw, gamma, planeDy, planeDyXhat, dGamma, dBeta, gs);
    });
    pins.finish();
  } catch (const std::exception& e) {
    throwJava(env, std::string("ls_gn_grad_finish_k on the host: ") + e.what());
  }
}

JNIEXPORT void JNICALL Java_org_leanseg_backend_cuda_HostMath_planeAffine(
    JNIEnv* env, jclass, jint kind, jint planes, jint C, jint hw, jint groups, jlong perSet, jboolean vec, jfloatArray ju,
    jfloatArray jv, jfloatArray jout, jfloatArray jp0, jfloatArray jp1, jfloatArray jp2, jfloatArray jp3, jfloatArray jp4,
    jdouble eps, jint gx, jint gy, jlong schedule) {
  try {
    Pins pins(env);
    float* u = pins.get(ju);
    float* v = pins.get(jv);
    float* out = pins.get(jout);
    float* p0 = pins.get(jp0);
    float* p1 = pins.get(jp1);
    float* p2 = pins.get(jp2);
    float* p3 = pins.get(jp3);
    float* p4 = pins.get(jp4);
    ls_host_launch<LsNoShared>(gx, gy, LS_NORM_BLOCK, LsSchedule{(uint64_t)schedule}, [&](const LsHostThread& t, LsNoShared&) {
      ls_plane_affine_body(t, kind, planes, C, hw, groups, perSet, vec ? 1 : 0, u, v, out, p0, p1, p2, p3, p4, eps);
    });
    pins.finish();
  } catch (const std::exception& e) {
    throwJava(env, std::string("ls_plane_affine_k on the host: ") + e.what());
  }
}

}  // extern "C"
