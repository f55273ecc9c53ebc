#include "datasets/warnings.h"

#include <atomic>
#include <cstdio>
#include <mutex>

namespace dsvd {
namespace {
std::mutex mutex;
std::vector<std::string> kept;
std::atomic<bool> printed{true};
constexpr size_t kMaxKept = 10000;
}  // namespace

void dataset_warning(const std::string& message) {
  std::lock_guard<std::mutex> lock(mutex);
  if (printed) std::fprintf(stderr, "warning: %s\n", message.c_str());
  if (kept.size() < kMaxKept) kept.push_back(message);
}

std::vector<std::string> take_dataset_warnings() {
  std::lock_guard<std::mutex> lock(mutex);
  std::vector<std::string> out;
  out.swap(kept);
  return out;
}

void set_dataset_warnings_printed(bool on) { printed = on; }

}  // namespace dsvd
