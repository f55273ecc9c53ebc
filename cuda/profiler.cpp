// cuda/profiler.h for a CUDA build: a pair of events per range.
#include "cuda/profiler.h"

#include <algorithm>
#include <atomic>
#include <map>
#include <mutex>

#include "cuda/context.h"

namespace dsvd::cuda {
namespace {

struct Range {
  std::string name;
  cudaEvent_t start = nullptr, end = nullptr;
};

std::atomic<bool> g_on{false};
std::mutex g_mutex;
std::vector<Range>* g_ranges = new std::vector<Range>;

}  // namespace

void set_profiling(bool on) { g_on = on; }
bool profiling() { return g_on; }

ProfileRange::ProfileRange(const std::string& name) {
  if (!g_on) return;
  Range r;
  r.name = name;
  DSVD_CUDA_CHECK("profile", cudaEventCreate(&r.start));
  DSVD_CUDA_CHECK("profile", cudaEventCreate(&r.end));
  DSVD_CUDA_CHECK("profile", cudaEventRecord(r.start, context(0).stream));
  std::lock_guard<std::mutex> lock(g_mutex);
  slot_ = long(g_ranges->size());
  g_ranges->push_back(r);
}

ProfileRange::~ProfileRange() {
  if (slot_ < 0) return;
  std::lock_guard<std::mutex> lock(g_mutex);
  cudaEventRecord((*g_ranges)[size_t(slot_)].end, context(0).stream);
}

std::vector<std::pair<std::string, double>> take_profile() {
  std::lock_guard<std::mutex> lock(g_mutex);
  std::map<std::string, double> total;
  for (Range& r : *g_ranges) {
    float ms = 0;
    if (cudaEventSynchronize(r.end) == cudaSuccess && cudaEventElapsedTime(&ms, r.start, r.end) == cudaSuccess)
      total[r.name] += ms;
    cudaEventDestroy(r.start);
    cudaEventDestroy(r.end);
  }
  g_ranges->clear();
  std::vector<std::pair<std::string, double>> out(total.begin(), total.end());
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.second > b.second; });
  return out;
}

}  // namespace dsvd::cuda
