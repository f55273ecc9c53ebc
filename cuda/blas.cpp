// Batched matrix products and solves on cuBLAS (the kernels of ops/kernels/linalg.h).
//
// cuBLAS is column-major. For row-major C = A·B we ask it for Cᵀ = Bᵀ·Aᵀ: a row-major matrix
// with unit column stride is its own transpose in column-major (op N, ld = row stride), one with
// unit row stride is a column-major matrix (op T, ld = column stride). Other layouts are copied
// to contiguous first. TF32 follows PyTorch's default: off for matmul unless asked for.
#include "cuda/context.h"
#include "cuda/internal.h"
#include "ops/kernel_table.h"
#include "ops/kernels/linalg.h"
#include "ops/precision.h"

namespace dsvd::cuda {
namespace {

struct Operand {
  Tensor t;  // (batch, rows, cols) view
  cublasOperation_t op = CUBLAS_OP_N;
  int64_t ld = 0;
};

// How cuBLAS reads the row-major (rows, cols) matrices of `t` as the column-major transpose.
Operand as_column_major_transpose(const Tensor& t) {
  const int64_t rows = t.size(1), cols = t.size(2), rs = t.stride(1), cs = t.stride(2);
  if (cs == 1 && rs >= std::max<int64_t>(1, cols)) return {t, CUBLAS_OP_N, rs};
  if (rs == 1 && cs >= std::max<int64_t>(1, rows)) return {t, CUBLAS_OP_T, cs};
  Tensor dense = empty(t.sizes(), t.dtype(), t.device());
  copy_into(dense, t);
  return {dense, CUBLAS_OP_N, std::max<int64_t>(1, cols)};
}

}  // namespace

void batched_gemm(const Tensor& a, const Tensor& b, const Tensor& out) {
  const int64_t batch = out.size(0), m = out.size(1), n = out.size(2), k = a.size(2);
  DSVD_CHECK(out.is_contiguous(), "matmul (CUDA): the output must be contiguous");
  if (batch == 0 || m == 0 || n == 0) return;
  if (k == 0) return fill(out, 0.0);
  Operand A = as_column_major_transpose(a), B = as_column_major_transpose(b);
  DeviceContext& c = context(out.device().index);
  const bool f64 = out.dtype() == DType::Float64;
  // The 16-bit dtypes accumulate in float32 (tensor cores), float32 as TF32 when allowed.
  const cudaDataType type = f64                                   ? CUDA_R_64F
                            : out.dtype() == DType::BFloat16      ? CUDA_R_16BF
                            : out.dtype() == DType::Float16       ? CUDA_R_16F
                                                                  : CUDA_R_32F;
  const cublasComputeType_t compute =
      f64 ? CUBLAS_COMPUTE_64F
          : (is_reduced_float(out.dtype()) || !tf32_matmul() ? CUBLAS_COMPUTE_32F : CUBLAS_COMPUTE_32F_FAST_TF32);
  const double one64 = 1, zero64 = 0;
  const float one32 = 1, zero32 = 0;
  const void* alpha = f64 ? static_cast<const void*>(&one64) : &one32;
  const void* beta = f64 ? static_cast<const void*>(&zero64) : &zero32;
  DSVD_CHECK(m < (1ll << 31) && n < (1ll << 31) && k < (1ll << 31), "matmul (CUDA): a dimension exceeds 2^31");
  DSVD_CUBLAS_CHECK("matmul", cublasGemmStridedBatchedEx(
      c.cublas, B.op, A.op, int(n), int(m), int(k), alpha, B.t.data_ptr(), type, int(B.ld), B.t.stride(0),
      A.t.data_ptr(), type, int(A.ld), A.t.stride(0), beta, out.data_ptr(), type, int(n), m * n, int(batch), compute,
      CUBLAS_GEMM_DEFAULT));
}

}  // namespace dsvd::cuda

namespace dsvd::cuda {

// A X = B with cuBLAS's batched LU. cuBLAS is column-major: the column-major A is the row-major
// Aᵀ, so A is transposed into a dense copy (which getrf overwrites with its factors), B likewise
// into its column-major form (m, n) row-major, which getrs overwrites with X column-major; X is
// transposed back into `out`. The factorisation's status is checked on the device and read with
// the next synchronisation, naming a singular sample by number.
void batched_solve(const Tensor& a, const Tensor& b, const Tensor& out) {  // any layouts: copied below
  const int64_t batch = a.size(0), n = a.size(1), m = b.size(2);
  if (batch == 0 || n == 0 || m == 0) return;
  DSVD_CHECK(n < (1ll << 31) && m < (1ll << 31) && batch < (1ll << 31), "solve (CUDA): a dimension exceeds 2^31");
  const Device d = a.device();
  Tensor lu = empty({batch, n, n}, a.dtype(), d), rhs = empty({batch, m, n}, a.dtype(), d);
  copy_into(lu, a.transpose(1, 2));
  copy_into(rhs, b.transpose(1, 2));
  const size_t item = itemsize(a.dtype());
  DeviceContext& c = context(d.index);
  auto table = allocate(size_t(2 * batch) * sizeof(void*), d.index, "solve");
  strided_pointers(static_cast<void**>(table->data), lu.data_ptr(), size_t(n * n) * item, rhs.data_ptr(),
                   size_t(m * n) * item, batch, d.index);
  auto pivot_storage = allocate(size_t(batch) * sizeof(int) * size_t(n), d.index, "solve");
  int* pivots = static_cast<int*>(pivot_storage->data);
  Tensor info_tensor = empty({batch}, DType::Int64, d);  // int32 per sample (over-allocated)
  int* info = static_cast<int*>(info_tensor.data_ptr());
  void** lus = static_cast<void**>(table->data);
  void** xs = lus + batch;
  int host_info = 0;
  if (a.dtype() == DType::Float64) {
    DSVD_CUBLAS_CHECK("solve", cublasDgetrfBatched(c.cublas, int(n), reinterpret_cast<double**>(lus), int(n), pivots,
                                                   info, int(batch)));
    DSVD_CUBLAS_CHECK("solve", cublasDgetrsBatched(c.cublas, CUBLAS_OP_N, int(n), int(m), reinterpret_cast<double**>(lus),
                                                   int(n), pivots, reinterpret_cast<double**>(xs), int(n), &host_info,
                                                   int(batch)));
  } else {
    DSVD_CUBLAS_CHECK("solve", cublasSgetrfBatched(c.cublas, int(n), reinterpret_cast<float**>(lus), int(n), pivots,
                                                   info, int(batch)));
    DSVD_CUBLAS_CHECK("solve", cublasSgetrsBatched(c.cublas, CUBLAS_OP_N, int(n), int(m), reinterpret_cast<float**>(lus),
                                                   int(n), pivots, reinterpret_cast<float**>(xs), int(n), &host_info,
                                                   int(batch)));
  }
  DSVD_CHECK(host_info == 0, "solve (CUDA): cuBLAS getrs rejected argument ", -host_info);
  // Read at the next synchronisation: the solve itself does not wait.
  defer_info_check(info_tensor, batch, [](int64_t sample, int value) {
    return "solve: the matrix of sample " + std::to_string(sample) + " is singular (U(" + std::to_string(value) + ", " +
           std::to_string(value) + ") = 0)";
  });
  copy_into(out, rhs.transpose(1, 2));
}

DSVD_REGISTER_KERNEL_NATIVE_REDUCED_FLOAT(kernels::BatchedGemmKernel, CUDA, batched_gemm);
DSVD_REGISTER_KERNEL(kernels::BatchedSolveKernel, CUDA, batched_solve);

}  // namespace dsvd::cuda
