// Counter-based random numbers (Philox-4x32-10, Salmon et al., SC'11).
//
// Each draw of a factory is a pure function of (seed, draw index, element index): the generator
// only keeps the seed and a counter of draws made. So the same seed gives the same numbers on any
// thread count and in any order of evaluation, and a run's random state is two integers that a
// checkpoint can store.
#pragma once
#include <array>
#include <atomic>
#include <cstdint>

#include "tensor/host_device.h"

namespace dsvd {

// One Philox-4x32-10 block: 4 random 32-bit words for a 128-bit counter and a 64-bit key. Written
// once for the CPU and the GPU (the GPU's dropout draws the CPU's numbers).
DSVD_HOST_DEVICE std::array<uint32_t, 4> philox4x32(std::array<uint32_t, 4> c, uint64_t key) {
  constexpr uint32_t kM0 = 0xD2511F53u, kM1 = 0xCD9E8D57u;  // multipliers
  constexpr uint32_t kW0 = 0x9E3779B9u, kW1 = 0xBB67AE85u;  // Weyl key increments
  uint32_t k0 = uint32_t(key), k1 = uint32_t(key >> 32);
  for (int round = 0; round < 10; ++round) {
    const uint64_t p0 = uint64_t(kM0) * c[0];
    const uint64_t p1 = uint64_t(kM1) * c[2];
    c = {uint32_t(p1 >> 32) ^ c[1] ^ k0, uint32_t(p1), uint32_t(p0 >> 32) ^ c[3] ^ k1, uint32_t(p0)};
    k0 += kW0;
    k1 += kW1;
  }
  return c;
}

class Generator {
 public:
  explicit Generator(uint64_t seed = 0) : seed_(seed), draws_(0) {}
  Generator(const Generator& other) : seed_(other.seed_), draws_(other.draws_.load()) {}
  uint64_t seed() const { return seed_; }
  void manual_seed(uint64_t seed) { seed_ = seed; draws_ = 0; }
  // Reserves the next draw: the caller derives element i's numbers from (seed, draw, i).
  uint64_t next_draw() { return draws_.fetch_add(1); }
  uint64_t draws() const { return draws_.load(); }
  void set_draws(uint64_t draws) { draws_ = draws; }

 private:
  uint64_t seed_;
  std::atomic<uint64_t> draws_;
};

Generator& default_generator();
void manual_seed(uint64_t seed);  // reseeds the default generator

// The 4 words for block `block` of draw `draw`.
DSVD_HOST_DEVICE std::array<uint32_t, 4> philox_block(uint64_t seed, uint64_t draw, uint64_t block) {
  return philox4x32({uint32_t(block), uint32_t(block >> 32), uint32_t(draw), uint32_t(draw >> 32)}, seed);
}
// Conversions of random words to [0, 1): 24 bits for float, 53 bits for double.
DSVD_HOST_DEVICE float uniform_float(uint32_t w) { return float(w >> 8) * (1.0f / 16777216.0f); }
DSVD_HOST_DEVICE double uniform_double(uint32_t hi, uint32_t lo) {
  return double(((uint64_t(hi) << 32) | lo) >> 11) * (1.0 / 9007199254740992.0);
}

}  // namespace dsvd
