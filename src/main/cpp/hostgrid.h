// Runs a kernel body of src/main/cuda (written over grid.cuh's thread interface) on the host, over the same
// grid and block size as its CUDA launch (Note [Kernel bodies on two machines], docs/cuda-kernels.md).
//
// Each block's threads are fibers (ucontext) on one OS thread: a fiber runs until t.sync(), then the next
// one runs, so __syncthreads keeps its meaning (no thread passes a barrier before every thread of its block
// has reached it). The block's shared struct is poisoned with 0xFF bytes (NaN floats) at the start of each
// block, so a read of shared memory nobody wrote shows. Blocks run one after another, in an order given by
// the schedule, and within each barrier phase the threads run in an order given by the schedule too: a body
// whose result depends on either order (a race on shared or global memory, or an order-dependent
// reduction) gives different bits under different schedules, which HostKernelGridTest looks for. Barrier
// misuse is an error: a thread that returns while others of its block wait at a barrier, or threads waiting
// at barriers reached a different number of times (a __syncthreads in divergent code).
#pragma once
#include <ucontext.h>

#include <cstdint>
#include <cstring>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

struct LsHostBlockRun;

// The thread interface of grid.cuh for the host.
struct LsHostThread {
  int tx_, bx_, by_, bdim_, gx_, gy_;
  LsHostBlockRun* run_;
  int tx() const { return tx_; }
  int bx() const { return bx_; }
  int by() const { return by_; }
  int bdim() const { return bdim_; }
  int gx() const { return gx_; }
  int gy() const { return gy_; }
  inline void sync() const;
  // Blocks run one at a time on the host, so a plain increment is the atomicAdd.
  unsigned ticket(unsigned* counter) const { return (*counter)++; }
  float load_cg(const float* p) const { return *p; }
  void atomic_min_u64(unsigned long long* p, unsigned long long v) const {
    if (v < *p) *p = v;
  }
};

// Order of blocks and of threads within each barrier phase: 0 = in index order; otherwise a permutation drawn
// from this seed (a fixed linear congruential generator, the same on every machine).
struct LsSchedule {
  uint64_t seed;
  uint64_t next() {
    seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
    return seed >> 33;
  }
  void order(std::vector<int>& v) {
    for (size_t i = 0; i < v.size(); i++) v[i] = (int)i;
    if (seed == 0) return;
    for (size_t i = v.size(); i > 1; i--) {
      size_t j = next() % i;
      int t = v[i - 1];
      v[i - 1] = v[j];
      v[j] = t;
    }
  }
};

struct LsHostBlockRun {
  static constexpr size_t STACK = 64 * 1024;
  int bdim;
  std::vector<ucontext_t> ctx;
  std::vector<std::vector<char>> stacks;
  std::vector<int> state;  // 0 runnable, 1 waiting at a barrier, 2 returned
  std::vector<long> barriers;
  ucontext_t main;
  const std::function<void(const LsHostThread&)>* body = nullptr;
  std::vector<LsHostThread> threads;
  std::string error;

  explicit LsHostBlockRun(int blockDim)
      : bdim(blockDim), ctx(blockDim), stacks(blockDim, std::vector<char>(STACK)), state(blockDim), barriers(blockDim),
        threads(blockDim) {}

  void sync(int tx) {
    state[tx] = 1;
    barriers[tx]++;
    swapcontext(&ctx[tx], &main);
  }

  static void entry(int lo, int hi) {
    uintptr_t p = ((uintptr_t)(unsigned)hi << 32) | (uintptr_t)(unsigned)lo;
    LsHostThread* t = reinterpret_cast<LsHostThread*>(p);
    (*t->run_->body)(*t);
    t->run_->state[t->tx_] = 2;
    // returning resumes uc_link (main)
  }

  // Runs one block to completion; throws on barrier misuse.
  void block(int bx, int by, int gx, int gy, const std::function<void(const LsHostThread&)>& fn, LsSchedule& sched) {
    body = &fn;
    for (int tx = 0; tx < bdim; tx++) {
      threads[tx] = LsHostThread{tx, bx, by, bdim, gx, gy, this};
      state[tx] = 0;
      barriers[tx] = 0;
      getcontext(&ctx[tx]);
      ctx[tx].uc_stack.ss_sp = stacks[tx].data();
      ctx[tx].uc_stack.ss_size = STACK;
      ctx[tx].uc_link = &main;
      uintptr_t p = reinterpret_cast<uintptr_t>(&threads[tx]);
      makecontext(&ctx[tx], (void (*)())entry, 2, (int)(unsigned)(p & 0xffffffffu), (int)(unsigned)(p >> 32));
    }
    std::vector<int> order(bdim);
    for (;;) {
      sched.order(order);
      for (int k = 0; k < bdim; k++) {
        int tx = order[k];
        if (state[tx] == 2) continue;
        state[tx] = 0;
        swapcontext(&main, &ctx[tx]);
      }
      int done = 0;
      long at = -1;
      for (int tx = 0; tx < bdim; tx++) {
        if (state[tx] == 2) {
          done++;
        } else if (at < 0) {
          at = barriers[tx];
        } else if (barriers[tx] != at) {
          throw std::runtime_error("block (" + std::to_string(bx) + ", " + std::to_string(by) + "): thread " +
                                   std::to_string(tx) + " waits at barrier #" + std::to_string(barriers[tx]) +
                                   " while another waits at #" + std::to_string(at) + " (__syncthreads in divergent code)");
        }
      }
      if (done == bdim) return;
      if (done > 0) {
        throw std::runtime_error("block (" + std::to_string(bx) + ", " + std::to_string(by) + "): " + std::to_string(done) +
                                 " threads returned while " + std::to_string(bdim - done) + " wait at barrier #" +
                                 std::to_string(at) + " (a return before a __syncthreads)");
      }
    }
  }
};

inline void LsHostThread::sync() const { run_->sync(tx_); }

// Launches `body(thread, shared)` over grid (gx, gy) with bdim threads per block; Shared is the body's shared
// memory struct, poisoned at the start of every block. Returns the number of blocks run.
template <class Shared, class Body>
long ls_host_launch(int gx, int gy, int bdim, LsSchedule sched, Body body) {
  LsHostBlockRun run(bdim);
  Shared* sh = new Shared;
  std::function<void(const LsHostThread&)> fn = [&](const LsHostThread& t) { body(t, *sh); };
  std::vector<int> blocks(gx * gy);
  sched.order(blocks);
  try {
    for (int b : blocks) {
      std::memset(static_cast<void*>(sh), 0xFF, sizeof(Shared));
      run.block(b % gx, b / gx, gx, gy, fn, sched);
    }
  } catch (...) {
    delete sh;
    throw;
  }
  delete sh;
  return (long)gx * gy;
}

// A body without shared memory.
struct LsNoShared {
  char unused;
};
