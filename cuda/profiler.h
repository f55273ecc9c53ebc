// A coarse GPU-time profile by name, for finding where a training step spends its GPU time
// (benchmarks/gpu_train_step --profile): leaf modules' forward passes, each backward node, the
// optimizer step. When on, a ProfileRange records CUDA events around its scope on GPU 0's
// stream; take_profile() sums the elapsed times per name. Off (the default) it costs one branch.
// In a build without CUDA profiling never turns on.
#pragma once
#include <string>
#include <utility>
#include <vector>

namespace dsvd::cuda {

void set_profiling(bool on);
bool profiling();

class ProfileRange {
 public:
  explicit ProfileRange(const std::string& name);
  ~ProfileRange();
  ProfileRange(const ProfileRange&) = delete;
  ProfileRange& operator=(const ProfileRange&) = delete;

 private:
  long slot_ = -1;
};

// GPU milliseconds per name over what was recorded since the last call, largest first (waits for
// the GPU; clears the record).
std::vector<std::pair<std::string, double>> take_profile();

}  // namespace dsvd::cuda
