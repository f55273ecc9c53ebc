// Deferred GPU-side checks (cuda/internal.h): the flag is copied into a pinned host slot behind
// the kernel that wrote it, and an event says when the slot holds the verdict. While a stream
// records a graph, the flag is copied into a tensor of the graph's instead, and the check is
// queued after each replay (cuda/graph.cpp).
#include <deque>
#include <map>
#include <mutex>
#include <vector>

#include "cuda/internal.h"
#include "cuda/context.h"

namespace dsvd::cuda {
namespace {

struct Pending {
  int device;
  int64_t* slot;  // pinned
  cudaEvent_t arrived;
  std::function<std::string(int64_t)> message;
};

std::mutex g_mutex;
std::map<int, std::vector<CapturedCheck>*> g_capture_checks;  // device -> checks of its capture
std::deque<Pending>* g_pending = new std::deque<Pending>;
std::vector<std::pair<int64_t*, cudaEvent_t>>* g_free = new std::vector<std::pair<int64_t*, cudaEvent_t>>;

std::pair<int64_t*, cudaEvent_t> take_slot() {
  if (g_free->empty()) {
    constexpr int kChunk = 64;
    int64_t* chunk = nullptr;
    DSVD_CUDA_CHECK("deferred check", cudaHostAlloc(reinterpret_cast<void**>(&chunk), kChunk * sizeof(int64_t),
                                                    cudaHostAllocDefault));
    for (int i = 0; i < kChunk; ++i) {
      cudaEvent_t e = nullptr;
      DSVD_CUDA_CHECK("deferred check", cudaEventCreateWithFlags(&e, cudaEventDisableTiming));
      g_free->push_back({chunk + i, e});
    }
  }
  auto s = g_free->back();
  g_free->pop_back();
  return s;
}

}  // namespace

void set_capture_checks(int device, std::vector<CapturedCheck>* checks) {
  std::lock_guard<std::mutex> lock(g_mutex);
  if (checks) g_capture_checks[device] = checks;
  else g_capture_checks.erase(device);
}

void defer_check(const Tensor& flag, std::function<std::string(int64_t)> message) {
  const int device = flag.device().index;
  DeviceContext& c = context(device);
  std::vector<CapturedCheck>* captured = nullptr;
  {
    std::lock_guard<std::mutex> lock(g_mutex);
    if (auto it = g_capture_checks.find(device); it != g_capture_checks.end()) captured = it->second;
  }
  if (captured) {
    // The flag may be a block the graph reuses later; its verdict is kept in a tensor of its own.
    Tensor kept = empty({1}, DType::Int64, flag.device());
    DSVD_CUDA_CHECK("deferred check", cudaMemcpyAsync(kept.data_ptr(), flag.data_ptr(), sizeof(int64_t),
                                                      cudaMemcpyDeviceToDevice, c.stream));
    captured->push_back({kept, std::move(message)});
    return;
  }
  std::lock_guard<std::mutex> lock(g_mutex);
  auto [slot, event] = take_slot();
  DSVD_CUDA_CHECK("deferred check", cudaMemcpyAsync(slot, flag.data_ptr(), sizeof(int64_t), cudaMemcpyDeviceToHost, c.stream));
  DSVD_CUDA_CHECK("deferred check", cudaEventRecord(event, c.stream));
  g_pending->push_back({device, slot, event, std::move(message)});
}

void raise_deferred_errors(int device, bool wait) {
  if (capturing(device)) return;  // a recording stream cannot be waited for; the replays check
  std::string error;
  {
    std::lock_guard<std::mutex> lock(g_mutex);
    for (auto it = g_pending->begin(); it != g_pending->end();) {
      if (it->device != device) {
        ++it;
        continue;
      }
      cudaError_t status = wait ? cudaEventSynchronize(it->arrived) : cudaEventQuery(it->arrived);
      if (status == cudaErrorNotReady) break;  // later ones were queued after it
      DSVD_CUDA_CHECK("deferred check", status);
      const int64_t verdict = *it->slot;
      if (verdict >= 0 && error.empty()) error = it->message(verdict);
      g_free->push_back({it->slot, it->arrived});
      it = g_pending->erase(it);
    }
  }
  if (!error.empty()) throw Error(error);
}

}  // namespace dsvd::cuda
