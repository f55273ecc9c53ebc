// Batched symmetric eigendecomposition on cuSOLVER (cuda/internal.h: symeig; the SymeigDescendingKernel).
//
// Three solvers, chosen by the matrix size unless DSVD_CUDA_EIG names one:
//   jacobi   cusolverDn{S,D}syevjBatched: all matrices in one launch; cuSOLVER limits it to n <= 32
//   batched  cusolverDnXsyevBatched: one call for the batch, any n
//   loop     cusolverDnXsyevd per matrix
// benchmarks/gpu_train_step times them against torch.linalg.eigh. The matrices are symmetric, so
// the row-major input is also its own column-major self; cuSOLVER leaves the eigenvectors as the
// columns of a column-major matrix, which read row-major is Vᵀ: the result is transposed back.
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "cuda/context.h"
#include "cuda/internal.h"
#include "ops/kernel_table.h"
#include "ops/kernels/linalg.h"

namespace dsvd::cuda {
namespace {

std::string solver_for(int64_t n) {
  const char* env = std::getenv("DSVD_CUDA_EIG");
  if (env && *env) {
    std::string s = env;
    DSVD_CHECK(s == "jacobi" || s == "batched" || s == "loop", "DSVD_CUDA_EIG must be jacobi, batched or loop, got '",
               s, "'");
    DSVD_CHECK(s != "jacobi" || n <= 32, "DSVD_CUDA_EIG=jacobi: cuSOLVER's batched Jacobi takes n <= 32, got n = ", n);
    return s;
  }
  return n <= 32 ? "jacobi" : "batched";
}

// What a non-zero per-matrix info of cuSOLVER's eigensolver `solver` means.
std::function<std::string(int64_t, int)> solver_failure(const std::string& solver) {
  return [solver](int64_t matrix, int info) {
    return "symeig (cuSOLVER " + solver + "): matrix " + std::to_string(matrix) + " " +
           (info > 0 ? "did not converge" : "had an invalid argument") + " (info " + std::to_string(info) + ")";
  };
}

}  // namespace

void symeig(const Tensor& a, const Tensor& eigenvalues, const Tensor& eigenvectors) {
  const int64_t batch = a.size(0), n = a.size(1);
  if (batch == 0 || n == 0) return;
  const int dev = a.device().index;
  DeviceContext& c = context(dev);
  const bool f64 = a.dtype() == DType::Float64;
  const cudaDataType type = f64 ? CUDA_R_64F : CUDA_R_32F;
  Tensor work = empty(a.sizes(), a.dtype(), a.device());  // overwritten by the eigenvectors
  copy_into(work, a);
  Tensor w = eigenvalues.is_contiguous() ? eigenvalues : empty(eigenvalues.sizes(), eigenvalues.dtype(), a.device());
  const std::string solver = solver_for(n);
  const cusolverEigMode_t jobz = CUSOLVER_EIG_MODE_VECTOR;
  const cublasFillMode_t uplo = CUBLAS_FILL_MODE_LOWER;
  const size_t item = itemsize(a.dtype());
  if (solver == "jacobi") {
    Tensor info = empty({batch}, DType::Int64, a.device());  // int32 per matrix (over-allocated)
    syevjInfo_t params = nullptr;
    DSVD_CUSOLVER_CHECK("symeig", cusolverDnCreateSyevjInfo(&params));
    int lwork = 0;
    if (f64) {
      DSVD_CUSOLVER_CHECK("symeig", cusolverDnDsyevjBatched_bufferSize(c.cusolver, jobz, uplo, int(n), static_cast<double*>(work.data_ptr()),
                                                                     int(n), static_cast<double*>(w.data_ptr()), &lwork, params, int(batch)));
      Tensor buf = empty({std::max(1, lwork)}, DType::Float64, a.device());
      DSVD_CUSOLVER_CHECK("symeig", cusolverDnDsyevjBatched(c.cusolver, jobz, uplo, int(n), static_cast<double*>(work.data_ptr()), int(n),
                                                          static_cast<double*>(w.data_ptr()), static_cast<double*>(buf.data_ptr()), lwork,
                                                          static_cast<int*>(info.data_ptr()), params, int(batch)));
    } else {
      DSVD_CUSOLVER_CHECK("symeig", cusolverDnSsyevjBatched_bufferSize(c.cusolver, jobz, uplo, int(n), static_cast<float*>(work.data_ptr()),
                                                                     int(n), static_cast<float*>(w.data_ptr()), &lwork, params, int(batch)));
      Tensor buf = empty({std::max(1, lwork)}, DType::Float32, a.device());
      DSVD_CUSOLVER_CHECK("symeig", cusolverDnSsyevjBatched(c.cusolver, jobz, uplo, int(n), static_cast<float*>(work.data_ptr()), int(n),
                                                          static_cast<float*>(w.data_ptr()), static_cast<float*>(buf.data_ptr()), lwork,
                                                          static_cast<int*>(info.data_ptr()), params, int(batch)));
    }
    cusolverDnDestroySyevjInfo(params);
    defer_info_check(info, batch, solver_failure("jacobi"));  // read at the next synchronisation
  } else {
    cusolverDnParams_t params = nullptr;
    DSVD_CUSOLVER_CHECK("symeig", cusolverDnCreateParams(&params));
    size_t dev_bytes = 0, host_bytes = 0;
    const int64_t calls = solver == "batched" ? 1 : batch;
    if (solver == "batched")
      DSVD_CUSOLVER_CHECK("symeig", cusolverDnXsyevBatched_bufferSize(c.cusolver, params, jobz, uplo, n, type, work.data_ptr(), n,
                                                                     type, w.data_ptr(), type, &dev_bytes, &host_bytes, batch));
    else
      DSVD_CUSOLVER_CHECK("symeig", cusolverDnXsyevd_bufferSize(c.cusolver, params, jobz, uplo, n, type, work.data_ptr(), n, type,
                                                              w.data_ptr(), type, &dev_bytes, &host_bytes));
    DSVD_CHECK(host_bytes == 0 || !capturing(dev), "symeig: cuSOLVER's ", solver, " solver asks for a host workspace "
               "of ", host_bytes, " bytes, and waiting for the device to finish with it cannot be recorded in a graph "
               "(steps with this head train eagerly)");
    Tensor dev_buf = empty({int64_t(std::max<size_t>(1, dev_bytes))}, DType::UInt8, a.device());
    std::vector<uint8_t> host_buf(std::max<size_t>(1, host_bytes));
    Tensor info = empty({batch}, DType::Int64, a.device());
    for (int64_t i = 0; i < calls; ++i) {
      char* A = static_cast<char*>(work.data_ptr()) + size_t(i * n * n) * item;
      char* W = static_cast<char*>(w.data_ptr()) + size_t(i * n) * item;
      int* I = static_cast<int*>(info.data_ptr()) + i;
      if (solver == "batched")
        DSVD_CUSOLVER_CHECK("symeig", cusolverDnXsyevBatched(c.cusolver, params, jobz, uplo, n, type, A, n, type, W, type,
                                                            dev_buf.data_ptr(), dev_bytes, host_buf.data(), host_bytes, I, batch));
      else
        DSVD_CUSOLVER_CHECK("symeig", cusolverDnXsyevd(c.cusolver, params, jobz, uplo, n, type, A, n, type, W, type,
                                                      dev_buf.data_ptr(), dev_bytes, host_buf.data(), host_bytes, I));
    }
    cusolverDnDestroyParams(params);
    // cuSOLVER may use its host workspace until the stream gets there: then wait, as before.
    if (host_bytes > 0) DSVD_CUDA_CHECK("symeig", cudaStreamSynchronize(c.stream));
    defer_info_check(info, batch, solver_failure(solver));
  }
  if (!eigenvalues.is_contiguous()) copy_into(eigenvalues, w);
  copy_into(eigenvectors, work.transpose(1, 2));
}

namespace {

// The |λ|-descending decomposition of ops/matfn/symeig.h: non-finite input refused up front
// (as on the CPU), cuSOLVER (ascending eigenvalues), then the reorder on the device.
SymEig symeig_descending(const Tensor& sigma) {
  const int64_t batch = sigma.size(0), n = sigma.size(1);
  defer_finite_check(sigma, "symeig");  // queued before cuSOLVER's verdict: raised first
  const Device d = sigma.device();
  Tensor w = empty({batch, n}, sigma.dtype(), d), v = empty({batch, n, n}, sigma.dtype(), d);
  symeig(sigma, w, v);
  SymEig out{empty({batch, n}, sigma.dtype(), d), empty({batch, n, n}, sigma.dtype(), d), Tensor()};
  sort_eigenpairs_by_magnitude(w, v, out.values, out.vectors);
  out.smallest = w.select(1, 0);  // a view (cuSOLVER's values ascend): no kernel on the hot path
  return out;
}

}  // namespace

DSVD_REGISTER_KERNEL(kernels::SymeigDescendingKernel, CUDA, symeig_descending);

}  // namespace dsvd::cuda
