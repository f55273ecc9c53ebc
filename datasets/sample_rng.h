// The random source of one example's augmentation: Philox keyed by the run seed, with the epoch
// and the example's index in the counter. Example i of epoch e gets the same crop and flip in
// every run and whichever worker thread handles it.
#pragma once
#include <cmath>
#include <cstdint>

#include "tensor/random.h"

namespace dsvd {

class SampleRng {
 public:
  SampleRng(uint64_t seed, uint64_t epoch, uint64_t index) : seed_(seed), epoch_(epoch), index_(index) {}

  double uniform() {  // [0, 1), 53 bits
    if (lane_ >= 4) refill();
    uint32_t hi = words_[lane_++];
    if (lane_ >= 4) refill();
    uint32_t lo = words_[lane_++];
    return uniform_double(hi, lo);
  }
  double uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }
  // Uniform integer in [lo, hi).
  int64_t randint(int64_t lo, int64_t hi) { return lo + int64_t(std::floor(uniform() * double(hi - lo))); }
  bool bernoulli(double p) { return uniform() < p; }

 private:
  void refill() {
    words_ = philox4x32({uint32_t(block_), uint32_t(index_), uint32_t(index_ >> 32), uint32_t(epoch_)},
                        seed_ ^ (epoch_ >> 32) * 0x9E3779B97F4A7C15ull);
    ++block_;
    lane_ = 0;
  }
  uint64_t seed_, epoch_, index_;
  uint64_t block_ = 0;
  std::array<uint32_t, 4> words_{};
  int lane_ = 4;
};

}  // namespace dsvd
