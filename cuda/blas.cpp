// Batched matrix products on cuBLAS (cuda/backend.h: batched_gemm).
//
// cuBLAS is column-major. For row-major C = A·B we ask it for Cᵀ = Bᵀ·Aᵀ: a row-major matrix
// with unit column stride is its own transpose in column-major (op N, ld = row stride), one with
// unit row stride is a column-major matrix (op T, ld = column stride). Other layouts are copied
// to contiguous first. TF32 follows PyTorch's default: off for matmul unless asked for.
#include <atomic>

#include "cuda/backend.h"
#include "cuda/context.h"

namespace dsvd::cuda {
namespace {

std::atomic<bool> g_tf32_matmul{false};
std::atomic<bool> g_tf32_conv{true};

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

void set_tf32_matmul(bool on) { g_tf32_matmul = on; }
bool tf32_matmul() { return g_tf32_matmul; }
void set_tf32_conv(bool on) { g_tf32_conv = on; }
bool tf32_conv() { return g_tf32_conv; }

void batched_gemm(const Tensor& a, const Tensor& b, const Tensor& out) {
  const int64_t batch = out.size(0), m = out.size(1), n = out.size(2), k = a.size(2);
  DSVD_CHECK(out.is_contiguous(), "matmul (CUDA): the output must be contiguous");
  if (batch == 0 || m == 0 || n == 0) return;
  if (k == 0) return fill(out, 0.0);
  Operand A = as_column_major_transpose(a), B = as_column_major_transpose(b);
  DeviceContext& c = context(out.device().index);
  const bool f64 = out.dtype() == DType::Float64;
  const cudaDataType type = f64 ? CUDA_R_64F : CUDA_R_32F;
  const cublasComputeType_t compute =
      f64 ? CUBLAS_COMPUTE_64F : (g_tf32_matmul ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F);
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
