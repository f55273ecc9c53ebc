// What the files of the CUDA backend share among themselves: device memory, copies, deferred
// checks and the few kernels that one CUDA kernel calls from another. Nothing outside cuda/
// includes this: the ops reach the CUDA kernels through the kernel table (ops/kernel_table.h;
// each kernel registers itself in its own file), the tensor layer reaches device memory through
// tensor/device_backend.h (registered in cuda/device_backend.cpp).
//
// Streams: each device has one stream; every kernel and library call of dsvd is queued on it,
// so operations on one device are ordered without explicit synchronisation. Copies to the CPU
// synchronise that stream.
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "tensor/device_backend.h"
#include "tensor/storage.h"
#include "tensor/tensor.h"

namespace dsvd::cuda {

// --- memory: the caching allocator (cuda/allocator.cpp) ---
// A block of `nbytes` on `device`, reused from the cache when a freed block of the same size
// class exists; cudaMalloc only on a miss (and, if that fails, once more after emptying the cache).
std::shared_ptr<Storage> allocate(size_t nbytes, int device, const char* op);
DeviceMemoryStats memory_stats(int device = 0);
void reset_peak_memory_stats(int device = 0);
void empty_cache(int device = 0);  // returns cached, unused blocks to the driver
void synchronize(int device = 0);

// --- graphs (cuda/graph.cpp) and their memory ---
// Whether `device`'s stream is recording a graph now.
bool capturing(int device);
// Fills in the graph functions of the backend (cuda/graph.cpp).
void register_graph_functions(DeviceBackend& backend);
// While a stream captures, the blocks it asks for come from the graph's own pool, and blocks
// freed meanwhile go back there: a replay writes the same addresses, so nothing outside the graph
// may get them while it lives. cudaFree is never called during a capture.
struct GraphMemoryPool;
std::shared_ptr<GraphMemoryPool> make_graph_memory_pool(int device);
void set_capture_pool(int device, std::shared_ptr<GraphMemoryPool> pool);  // nullptr: the cache again
// The graph is destroyed: the pool's free blocks, and its live ones once freed, go to the cache.
void retire_graph_memory_pool(const std::shared_ptr<GraphMemoryPool>& pool);

// --- checks made on the GPU, reported later (cuda/deferred_checks.cpp) ---
// A kernel that validates data (cross-entropy targets) writes the first bad position into
// `flag` (an int64 on the device; -1 = all good) instead of making the host wait. The verdict is
// read at the next synchronisation point: synchronize(), a copy to the CPU (item(), to_vector),
// or the next check of the same kind; then `message(position)` is thrown as dsvd::Error.
void defer_check(const Tensor& flag, std::function<std::string(int64_t)> message);
// Throws the first failed check whose result has arrived (all of them, waiting, when `wait`).
void raise_deferred_errors(int device, bool wait);
// A check queued while a stream captures: the graph copies the flag into `flag` (its own tensor)
// at each replay, and each replay queues defer_check(flag, message) after it.
struct CapturedCheck {
  Tensor flag;
  std::function<std::string(int64_t)> message;
};
void set_capture_checks(int device, std::vector<CapturedCheck>* checks);  // nullptr: checks as usual

// --- copies (cuda/copy.cpp, cuda/kernels/elementwise.cu) ---
// dst <- src for any two layouts of the same shape, converting dtype; any device pair (a copy
// between the CPU and a GPU goes through a contiguous staging buffer when a side is strided).
void copy_into(const Tensor& dst, const Tensor& src);
void copy_on_device(const Tensor& dst, const Tensor& src);  // both on one GPU
void fill(const Tensor& out, double value);

// out[r] = scale · Σ_i rows[r, i] over contiguous (outer, inner) rows (cuda/kernels/reduce.cu).
void sum_rows(const Tensor& rows, int64_t outer, int64_t inner, const Tensor& out, double scale = 1.0);

// --- the eigendecomposition's pieces (cuda/eig.cpp, cuda/kernels/matfn.cu) ---
// a (B, n, n) symmetric; eigenvalues (B, n) ascending, eigenvectors (B, n, n) as columns (cuSOLVER).
void symeig(const Tensor& a, const Tensor& eigenvalues, const Tensor& eigenvectors);
// Eigenpairs from ascending (B, n) values and column eigenvectors, reordered by |λ| descending
// (stable) into values_out = |λ| and vectors_out, as the CPU's symeig_descending.
void sort_eigenpairs_by_magnitude(const Tensor& w, const Tensor& vectors, const Tensor& values_out,
                                  const Tensor& vectors_out);
// Queues a check that no sample (dimension 0) of contiguous `t` holds NaN or Inf; a failure is
// raised, naming `op` and the first such sample, at the next synchronisation (defer_check).
void defer_finite_check(const Tensor& t, const char* op);
// Queues the check of a cuSOLVER/cuBLAS call's per-matrix `info` (int32 on the device, `count` of
// them): the first matrix with a non-zero info is raised as message(matrix, info) at the next
// synchronisation, so that the call itself does not wait.
void defer_info_check(const Tensor& info, int64_t count, std::function<std::string(int64_t, int)> message);
// --- batch norm + add + ReLU, dsvd's own fused kernels (cuda/kernels/batch_norm_relu.cu) ---
// The arguments and results of kernels::BatchNormReluTrainingKernel / BatchNormReluBackwardKernel
// (cuda/batch_norm_relu.cpp calls them under DSVD_CUDA_FUSED_BN=1).
void fused_batch_norm_relu_forward(const Tensor& x, const Tensor& residual, const Tensor& gamma, const Tensor& beta,
                                   const Tensor& running_mean, const Tensor& running_var, double momentum, double eps,
                                   const Tensor& y, Tensor& save_mean, Tensor& save_invstd);
void fused_batch_norm_relu_backward(const Tensor& x, const Tensor& y, const Tensor& grad_y, const Tensor& gamma,
                                    const Tensor& save_mean, const Tensor& save_invstd, const Tensor& grad_x,
                                    const Tensor& grad_gamma, const Tensor& grad_beta, const Tensor& grad_residual);

// table[s] = base_a + s·stride_a and table[count + s] = base_b + s·stride_b (bytes), s < count,
// written by a kernel on `device`'s stream: the pointer arrays of cuBLAS's batched calls, made on
// the device so that no host memory is read (a graph can record it).
void strided_pointers(void** table, void* base_a, size_t stride_a, void* base_b, size_t stride_b, int64_t count,
                      int device);

}  // namespace dsvd::cuda
