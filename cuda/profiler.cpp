// cuda/profiler.h: a pair of timestamps per range, host clock or CUDA events.
#include "cuda/profiler.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <map>
#include <mutex>

#include "dsvd_config.h"
#include "tensor/error.h"
#if DSVD_HAVE_CUDA
#include "cuda/context.h"
#endif

namespace dsvd::cuda {
namespace {

struct Range {
  std::string name;
  double host_start = 0, host_end = 0;
#if DSVD_HAVE_CUDA
  cudaEvent_t start = nullptr, end = nullptr;
#endif
};

std::atomic<int> g_mode{int(ProfileMode::Off)};
std::mutex g_mutex;
std::vector<Range>* g_ranges = new std::vector<Range>;

double now_ms() {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

}  // namespace

void set_profiling(ProfileMode mode) {
#if !DSVD_HAVE_CUDA
  DSVD_CHECK(mode != ProfileMode::Gpu, "profiling: GPU timing needs a build with CUDA");
#endif
  g_mode = int(mode);
}
bool profiling() { return g_mode != int(ProfileMode::Off); }

ProfileRange::ProfileRange(const std::string& name) {
  const ProfileMode mode = ProfileMode(g_mode.load());
  if (mode == ProfileMode::Off) return;
  Range r;
  r.name = name;
#if DSVD_HAVE_CUDA
  if (mode == ProfileMode::Gpu) {
    DSVD_CUDA_CHECK("profile", cudaEventCreate(&r.start));
    DSVD_CUDA_CHECK("profile", cudaEventCreate(&r.end));
    DSVD_CUDA_CHECK("profile", cudaEventRecord(r.start, context(0).stream));
  }
#endif
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
#if DSVD_HAVE_CUDA
  if (r.end) cudaEventRecord(r.end, context(0).stream);
#endif
}

std::vector<std::pair<std::string, double>> take_profile() {
  std::lock_guard<std::mutex> lock(g_mutex);
  std::map<std::string, double> total;
  for (Range& r : *g_ranges) {
    double ms = r.host_end - r.host_start;
#if DSVD_HAVE_CUDA
    if (r.end) {
      float gpu = 0;
      if (cudaEventSynchronize(r.end) == cudaSuccess && cudaEventElapsedTime(&gpu, r.start, r.end) == cudaSuccess) ms = gpu;
      cudaEventDestroy(r.start);
      cudaEventDestroy(r.end);
    }
#endif
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

}  // namespace dsvd::cuda
