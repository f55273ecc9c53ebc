// copy_into between any two devices (cuda/internal.h; the CopyKernel of the kernel table). Host<->device copies move contiguous bytes
// of the destination's dtype: a strided or differently-typed side is first converted on its own
// device. A copy to the host waits for the device's stream, so its result is ready on return.
// A copy to the device does not wait: the bytes go through a pinned staging block (reused once
// the GPU has read it, as an event says), so the caller may free its host tensor at once and the
// GPU's queue keeps running while the host goes on.
#include <algorithm>
#include <bit>
#include <cstring>
#include <mutex>
#include <vector>

#include "cuda/context.h"
#include "cuda/internal.h"
#include "ops/kernel_table.h"
#include "ops/kernels/elementwise.h"

namespace dsvd::cuda {


namespace {

// Pinned host blocks for host-to-device copies, each free again once its copy's event completed.
struct PinnedBlock {
  void* ptr = nullptr;
  size_t size = 0;
  cudaEvent_t done = nullptr;
  bool recorded = false;
};

std::mutex g_pinned_mutex;
std::vector<PinnedBlock>* g_pinned = new std::vector<PinnedBlock>;  // kept for the process

// A pinned block of at least `bytes` that no copy in flight still reads.
PinnedBlock& pinned_block(size_t bytes) {
  for (PinnedBlock& b : *g_pinned) {
    if (b.size < bytes) continue;
    if (b.recorded) {
      cudaError_t status = cudaEventQuery(b.done);
      if (status == cudaErrorNotReady) continue;
      DSVD_CUDA_CHECK("copy to GPU", status);
      b.recorded = false;
    }
    return b;
  }
  PinnedBlock b;
  b.size = std::max<size_t>(size_t(1) << 16, std::bit_ceil(bytes));
  DSVD_CUDA_CHECK("copy to GPU", cudaHostAlloc(&b.ptr, b.size, cudaHostAllocDefault));
  DSVD_CUDA_CHECK("copy to GPU", cudaEventCreateWithFlags(&b.done, cudaEventDisableTiming));
  g_pinned->push_back(b);
  return g_pinned->back();
}

size_t bytes_of(const Tensor& t) { return size_t(t.numel()) * itemsize(t.dtype()); }

// A contiguous tensor of `like`'s shape and `dtype` on `device` holding like's values.
Tensor dense_on_own_device(const Tensor& like, DType dtype) {
  if (like.is_contiguous() && like.dtype() == dtype) return like;
  Tensor out = empty(like.sizes(), dtype, like.device());
  copy_into(out, like);
  return out;
}

}  // namespace

void copy_into(const Tensor& dst, const Tensor& src) {
  DSVD_CHECK(dst.sizes() == src.sizes(), "copy: shapes differ (", shape_str(dst.sizes()), " and ",
             shape_str(src.sizes()), ")");
  if (dst.numel() == 0) return;
  const Device dd = dst.device(), sd = src.device();
  if (dd.is_cpu() && sd.is_cpu()) return kernels::dispatch<kernels::CopyKernel>(Device::cpu())(dst, src);
  if (dd == sd) return copy_on_device(dst, src);
  // Anything else reads host memory or waits for a device: neither can be recorded in a graph.
  for (const Device d : {dd, sd})
    DSVD_CHECK(!d.is_cuda() || !capturing(d.index), "copy from ", sd.str(), " to ", dd.str(), ": cuda:", d.index,
               " is recording a graph, and a copy that reads host memory or reads back to the host (item(), "
               "to_vector, .to(cpu)) cannot be part of one (a replay would not run it again)");
  if (dd.is_cuda() && sd.is_cuda()) {
    Tensor staged = dense_on_own_device(src, dst.dtype());
    Tensor landing = dst.is_contiguous() ? dst : empty(dst.sizes(), dst.dtype(), dd);
    DSVD_CUDA_CHECK("copy", cudaMemcpyPeerAsync(landing.data_ptr(), dd.index, staged.data_ptr(), sd.index,
                                                bytes_of(landing), context(sd.index).stream));
    synchronize(sd.index);
    if (!dst.is_contiguous()) copy_on_device(dst, landing);
    return;
  }
  if (dd.is_cuda()) {  // host -> device
    Tensor staged = dense_on_own_device(src, dst.dtype());
    Tensor landing = dst.is_contiguous() ? dst : empty(dst.sizes(), dst.dtype(), dd);
    DeviceContext& c = context(dd.index);
    const size_t bytes = bytes_of(landing);
    std::lock_guard<std::mutex> lock(g_pinned_mutex);
    PinnedBlock& block = pinned_block(bytes);
    std::memcpy(block.ptr, staged.data_ptr(), bytes);
    DSVD_CUDA_CHECK("copy to GPU", cudaMemcpyAsync(landing.data_ptr(), block.ptr, bytes, cudaMemcpyHostToDevice, c.stream));
    DSVD_CUDA_CHECK("copy to GPU", cudaEventRecord(block.done, c.stream));
    block.recorded = true;
    if (!dst.is_contiguous()) copy_on_device(dst, landing);
    return;
  }
  // device -> host
  Tensor staged = dense_on_own_device(src, dst.dtype());
  Tensor landing = dst.is_contiguous() ? dst : empty(dst.sizes(), dst.dtype());
  DeviceContext& c = context(sd.index);
  DSVD_CUDA_CHECK("copy to CPU", cudaMemcpyAsync(landing.data_ptr(), staged.data_ptr(), bytes_of(landing),
                                                 cudaMemcpyDeviceToHost, c.stream));
  DSVD_CUDA_CHECK("copy to CPU", cudaStreamSynchronize(c.stream));
  raise_deferred_errors(sd.index, false);  // every verdict queued before this copy has arrived
  if (!dst.is_contiguous()) kernels::dispatch<kernels::CopyKernel>(Device::cpu())(dst, landing);
}

DSVD_REGISTER_KERNEL(kernels::CopyKernel, CUDA, copy_into);

}  // namespace dsvd::cuda
