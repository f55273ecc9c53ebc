// copy_into between any two devices (cuda/backend.h). Host<->device copies move contiguous bytes
// of the destination's dtype: a strided or differently-typed side is first converted on its own
// device. A copy to the host waits for the device's stream, so its result is ready on return.
#include "cuda/backend.h"
#include "cuda/context.h"
#include "ops/cpu/copy_kernel.h"

namespace dsvd::cuda {

void copy_on_device(const Tensor& dst, const Tensor& src);  // kernels/elementwise.cu

namespace {

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
  if (dd.is_cpu() && sd.is_cpu()) return cpu::copy_into(dst, src);
  if (dd.is_cuda() && sd.is_cuda()) {
    if (dd == sd) return copy_on_device(dst, src);
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
    DSVD_CUDA_CHECK("copy to GPU", cudaMemcpyAsync(landing.data_ptr(), staged.data_ptr(), bytes_of(landing),
                                                   cudaMemcpyHostToDevice, c.stream));
    // The host buffer may be freed when we return: wait until the copy has read it.
    DSVD_CUDA_CHECK("copy to GPU", cudaStreamSynchronize(c.stream));
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
  if (!dst.is_contiguous()) cpu::copy_into(dst, landing);
}

}  // namespace dsvd::cuda
