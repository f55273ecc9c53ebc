// cuda/backend.h and cuda/dnn.h for a build without CUDA: CPU-to-CPU copies work, everything
// else says that dsvd was built without the CUDA backend.
#include "cuda/backend.h"
#include "cuda/dnn.h"
#include "ops/cpu/copy_kernel.h"
#include "tensor/error.h"

namespace dsvd::cuda {
namespace {
[[noreturn]] void no_cuda(const char* what) {
  fail(what, ": dsvd was built without CUDA (configure with -Dcuda=enabled on a machine with the CUDA toolkit)");
}
}  // namespace

std::shared_ptr<Storage> allocate(size_t, int, const char* op) { no_cuda(op); }
MemoryStats memory_stats(int) { return {}; }
void reset_peak_memory_stats(int) {}
void empty_cache(int) {}
void synchronize(int) {}
void defer_check(const Tensor&, std::function<std::string(int64_t)>) { no_cuda("defer_check"); }
void raise_deferred_errors(int, bool) {}
void copy_into(const Tensor& dst, const Tensor& src) {
  if (dst.device().is_cpu() && src.device().is_cpu()) return cpu::copy_into(dst, src);
  no_cuda("copy");
}
void fill(const Tensor&, double) { no_cuda("fill"); }
void unary(Unary, const Tensor&, const Tensor&, double, double) { no_cuda("unary"); }
void binary(Binary, const Tensor&, const Tensor&, const Tensor&) { no_cuda("binary"); }
void binary_scalar(Binary, const Tensor&, const Tensor&, double, bool) { no_cuda("binary"); }
void where(const Tensor&, const Tensor&, const Tensor&, const Tensor&) { no_cuda("where"); }
void threshold_backward(const Tensor&, const Tensor&, const Tensor&) { no_cuda("relu_backward"); }
void polynomial(const Tensor&, const Tensor&, const double*, int64_t) { no_cuda("polynomial"); }
void gather_columns(const Tensor&, const Tensor&, const Tensor&) { no_cuda("gather"); }
void scatter_columns(const Tensor&, const Tensor&, const Tensor&) { no_cuda("scatter"); }
void sum_rows(const Tensor&, int64_t, int64_t, const Tensor&, double) { no_cuda("sum"); }
void var_rows(const Tensor&, int64_t, int64_t, int64_t, const Tensor&) { no_cuda("var"); }
void max_rows(const Tensor&, int64_t, int64_t, const Tensor&, const Tensor&) { no_cuda("max"); }
void scatter_rows(const Tensor&, const Tensor&, int64_t, int64_t, const Tensor&) { no_cuda("max_backward"); }
void log_softmax_rows(const Tensor&, const Tensor&, int64_t, int64_t) { no_cuda("log_softmax"); }
void cross_entropy_forward(const Tensor&, const Tensor&, double, const Tensor&) { no_cuda("cross_entropy"); }
void cross_entropy_backward(const Tensor&, const Tensor&, double, const Tensor&, const Tensor&) { no_cuda("cross_entropy"); }
void batched_gemm(const Tensor&, const Tensor&, const Tensor&) { no_cuda("matmul"); }
void batched_solve(const Tensor&, const Tensor&, const Tensor&) { no_cuda("solve"); }
void set_tf32_matmul(bool) {}
bool tf32_matmul() { return false; }
void set_tf32_conv(bool) {}
bool tf32_conv() { return true; }
void symeig(const Tensor&, const Tensor&, const Tensor&) { no_cuda("symeig"); }
void sort_eigenpairs_by_magnitude(const Tensor&, const Tensor&, const Tensor&, const Tensor&) { no_cuda("symeig"); }
InfinityScan scan_infinity(const Tensor&, bool) { no_cuda("repair"); }
void replace_infinity(const Tensor&, bool, double) { no_cuda("repair"); }
int64_t replace_nan_with_zero(const Tensor&) { no_cuda("repair"); }
void dropout_mask_multiply(const Tensor&, const Tensor&, uint64_t, uint64_t, double) { no_cuda("dropout"); }
void sgd_update(const Tensor&, const Tensor&, const Tensor&, double, double, double, double, bool, bool) { no_cuda("sgd"); }

void conv2d_forward(const Conv2dGeometry&, const Tensor&, const Tensor&, const Tensor&, const Tensor&) { no_cuda("conv2d"); }
void conv2d_backward(const Conv2dGeometry&, const Tensor&, const Tensor&, const Tensor&, const Tensor&, const Tensor&,
                     const Tensor&) { no_cuda("conv2d"); }
void batch_norm_training(const Tensor&, const Tensor&, const Tensor&, const Tensor&, const Tensor&, double, double,
                         const Tensor&, const Tensor&, const Tensor&) { no_cuda("batch_norm"); }
void batch_norm_backward(const Tensor&, const Tensor&, const Tensor&, const Tensor&, const Tensor&, double, const Tensor&,
                         const Tensor&, const Tensor&) { no_cuda("batch_norm"); }
void max_pool2d_forward(const PoolWindows&, const Tensor&, const Tensor&, const Tensor&) { no_cuda("max_pool2d"); }
void max_pool2d_backward(const PoolWindows&, const Tensor&, const Tensor&, const Tensor&) { no_cuda("max_pool2d"); }
void avg_pool2d_forward(const PoolWindows&, bool, const Tensor&, const Tensor&) { no_cuda("avg_pool2d"); }
void avg_pool2d_backward(const PoolWindows&, bool, const Tensor&, const Tensor&) { no_cuda("avg_pool2d"); }
void adaptive_avg_pool2d_forward(const Tensor&, const Tensor&) { no_cuda("adaptive_avg_pool2d"); }
void adaptive_avg_pool2d_backward(const Tensor&, const Tensor&) { no_cuda("adaptive_avg_pool2d"); }

}  // namespace dsvd::cuda
