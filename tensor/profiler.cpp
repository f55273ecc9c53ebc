// tensor/profiler.h: a pair of timestamps per range, host clock or device events.
#include "tensor/profiler.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <map>
#include <mutex>

#include "tensor/device_backend.h"
#include "tensor/error.h"

namespace dsvd {
namespace {

struct Range {
  std::string name;
  double host_start = 0, host_end = 0;
  void* start = nullptr;  // device events (ProfileMode::Gpu)
  void* end = nullptr;
};

// The backend whose events time ProfileMode::Gpu ranges (device 0 of the CUDA kind).
const DeviceBackend* gpu_backend() { return find_device_backend(Device::Kind::CUDA); }

std::atomic<int> g_mode{int(ProfileMode::Off)};
std::mutex g_mutex;
std::vector<Range>* g_ranges = new std::vector<Range>;

double now_ms() {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

}  // namespace

void set_profiling(ProfileMode mode) {
  DSVD_CHECK(mode != ProfileMode::Gpu || gpu_backend(), "profiling: GPU timing needs a build with CUDA");
  g_mode = int(mode);
}
bool profiling() { return g_mode != int(ProfileMode::Off); }

ProfileRange::ProfileRange(const std::string& name) {
  const ProfileMode mode = ProfileMode(g_mode.load());
  if (mode == ProfileMode::Off) return;
  Range r;
  r.name = name;
  if (mode == ProfileMode::Gpu) r.start = gpu_backend()->record_event(0);
  r.host_start = now_ms();
  std::lock_guard<std::mutex> lock(g_mutex);
  slot_ = long(g_ranges->size());
  g_ranges->push_back(r);
}

ProfileRange::~ProfileRange() {
  if (slot_ < 0) return;
  std::lock_guard<std::mutex> lock(g_mutex);
  Range& r = (*g_ranges)[size_t(slot_)];
  r.host_end = now_ms();
  if (r.start) r.end = gpu_backend()->record_event(0);
}

std::vector<std::pair<std::string, double>> take_profile() {
  std::lock_guard<std::mutex> lock(g_mutex);
  std::map<std::string, double> total;
  for (Range& r : *g_ranges) {
    double ms = r.host_end - r.host_start;
    if (r.start && r.end) {
      const double gpu = gpu_backend()->elapsed_ms(r.start, r.end);
      if (gpu >= 0) ms = gpu;  // negative: the device could not time it; keep the host's figure
    }
    if (r.start) gpu_backend()->destroy_event(r.start);
    if (r.end) gpu_backend()->destroy_event(r.end);
    total[r.name] += ms;
  }
  g_ranges->clear();
  std::vector<std::pair<std::string, double>> out(total.begin(), total.end());
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.second > b.second; });
  return out;
}

std::string profile_report(ProfileMode mode, int steps, const std::function<void()>& step, const std::string& title,
                           size_t rows) {
  set_profiling(mode);
  for (int i = 0; i < steps; ++i) step();
  set_profiling(ProfileMode::Off);
  const auto profile = take_profile();
  double total = 0;
  for (const auto& [name, ms] : profile) total += ms;
  char line[512];
  std::snprintf(line, sizeof line, "%s: ms per step by name (sum %.2f ms)\n", title.c_str(), total / steps);
  std::string out = line;
  for (size_t i = 0; i < profile.size() && i < rows; ++i) {
    std::snprintf(line, sizeof line, "  %9.3f  %s\n", profile[i].second / steps, profile[i].first.c_str());
    out += line;
  }
  return out;
}

}  // namespace dsvd
