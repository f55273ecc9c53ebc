// A coarse time profile by name, for finding where a training step spends its time
// (benchmarks/gpu_train_step --profile, benchmarks/train_step --profile): leaf modules' forward
// passes, each backward node, the optimizer step. When on, a ProfileRange measures its scope:
// on the GPU with device events in GPU 0's queue (Mode::Gpu, through tensor/device_backend.h), or with the host's clock (Mode::Host,
// for CPU runs: the ops are synchronous there). take_profile() sums the times per name. Off (the
// default) it costs one branch.
#pragma once
#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace dsvd {

enum class ProfileMode { Off, Host, Gpu };
void set_profiling(ProfileMode mode);  // Gpu needs a CUDA build and device
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

// Milliseconds per name over what was recorded since the last call, largest first (waits for
// the GPU in Gpu mode; clears the record).
std::vector<std::pair<std::string, double>> take_profile();

// Runs `step` `steps` times profiled in `mode` and returns the table: "TITLE: ms per step by name
// (sum S ms)", then one "  ms  name" line per name, largest first (at most `rows`).
std::string profile_report(ProfileMode mode, int steps, const std::function<void()>& step, const std::string& title,
                           size_t rows = 25);

}  // namespace dsvd
