// CUDA graphs for tensor/device_graph.h: stream capture of the device's one stream in the
// thread-local mode (a call that would wait for the device, or cudaMalloc, from the capturing
// thread invalidates the capture; the allocator steps outside for its own cudaMalloc), the
// graph's memory pool and its deferred checks (cuda/internal.h).
#include <map>
#include <mutex>
#include <vector>

#include "cuda/context.h"
#include "cuda/internal.h"
#include "tensor/device_backend.h"
#include "tensor/error.h"

namespace dsvd::cuda {
namespace {

struct Capture {
  std::shared_ptr<GraphMemoryPool> pool;
  std::vector<CapturedCheck> checks;
};

struct Graph {
  int device = 0;
  cudaGraphExec_t exec = nullptr;
  std::shared_ptr<GraphMemoryPool> pool;
  std::vector<CapturedCheck> checks;
};

std::mutex g_mutex;
std::map<int, std::unique_ptr<Capture>> g_captures;

std::unique_ptr<Capture> stop_routing(int device) {
  set_capture_pool(device, nullptr);
  set_capture_checks(device, nullptr);
  std::lock_guard<std::mutex> lock(g_mutex);
  auto it = g_captures.find(device);
  if (it == g_captures.end()) return nullptr;
  std::unique_ptr<Capture> capture = std::move(it->second);
  g_captures.erase(it);
  return capture;
}

void begin_capture(int device) {
  DeviceContext& c = context(device);
  DSVD_CHECK(!capturing(device), "graph capture: cuda:", device, " is already recording a graph");
  synchronize(device);  // errors of earlier work are reported now, not as the capture's
  auto capture = std::make_unique<Capture>();
  capture->pool = make_graph_memory_pool(device);
  set_capture_pool(device, capture->pool);
  set_capture_checks(device, &capture->checks);
  {
    std::lock_guard<std::mutex> lock(g_mutex);
    g_captures[device] = std::move(capture);
  }
  const cudaError_t status = cudaStreamBeginCapture(c.stream, cudaStreamCaptureModeThreadLocal);
  if (status != cudaSuccess) {
    cudaGetLastError();
    retire_graph_memory_pool(stop_routing(device)->pool);
    DSVD_CUDA_CHECK("graph capture", status);
  }
}

void abort_capture(int device) {
  cudaGraph_t graph = nullptr;
  cudaStreamEndCapture(context(device).stream, &graph);  // an invalidated capture ends with an error
  if (graph) cudaGraphDestroy(graph);
  cudaGetLastError();
  if (auto capture = stop_routing(device)) retire_graph_memory_pool(capture->pool);
}

void* end_capture(int device) {
  cudaGraph_t graph = nullptr;
  const cudaError_t ended = cudaStreamEndCapture(context(device).stream, &graph);
  std::unique_ptr<Capture> capture = stop_routing(device);
  DSVD_CHECK(capture != nullptr, "graph capture: cuda:", device, " was not recording");
  cudaError_t status = ended;
  cudaGraphExec_t exec = nullptr;
  if (status == cudaSuccess && graph) status = cudaGraphInstantiate(&exec, graph, 0);
  if (graph) cudaGraphDestroy(graph);
  if (status != cudaSuccess || !exec) {
    cudaGetLastError();
    retire_graph_memory_pool(capture->pool);
    fail("graph capture on cuda:", device, " failed: ", cudaGetErrorString(status),
         status == cudaErrorStreamCaptureInvalidated
             ? " (a call during the capture was one that cannot be recorded; it is the first CUDA error "
               "reported while recording)"
             : "");
  }
  auto* made = new Graph;
  made->device = device;
  made->exec = exec;
  made->pool = std::move(capture->pool);
  made->checks = std::move(capture->checks);
  return made;
}

void replay(void* handle) {
  auto* g = static_cast<Graph*>(handle);
  DeviceContext& c = context(g->device);
  DSVD_CUDA_CHECK("graph replay", cudaGraphLaunch(g->exec, c.stream));
  for (const CapturedCheck& check : g->checks) defer_check(check.flag, check.message);
}

void destroy_graph(void* handle) {
  auto* g = static_cast<Graph*>(handle);
  {
    DeviceGuard guard(g->device);
    cudaStreamSynchronize(context(g->device).stream);  // no replay may still use the pool
    cudaGraphExecDestroy(g->exec);
  }
  retire_graph_memory_pool(g->pool);
  delete g;
}

}  // namespace

bool capturing(int device) {
  cudaStreamCaptureStatus status = cudaStreamCaptureStatusNone;
  if (cudaStreamIsCapturing(context(device).stream, &status) != cudaSuccess) {
    cudaGetLastError();
    return false;
  }
  return status != cudaStreamCaptureStatusNone;
}

void register_graph_functions(DeviceBackend& b) {
  b.begin_capture = &begin_capture;
  b.end_capture = &end_capture;
  b.abort_capture = &abort_capture;
  b.replay = &replay;
  b.destroy_graph = &destroy_graph;
  b.is_capturing = &capturing;
}

}  // namespace dsvd::cuda
