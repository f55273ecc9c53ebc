// libFuzzer target: the tensor-input validation of svd_lab (features, symmetric matrices,
// upstream gradients: shapes, dtypes, NaN/Inf, symmetry) and predict (an (N, 3, H, W) float32
// batch), on .npy bytes; small inputs that pass then run the matrix square-root layer forward and
// backward, so that whatever validation lets through is exercised.
#include <cstddef>
#include <cstdint>
#include <string>

#include "apps/predict_input.h"
#include "apps/svd_lab/lab.h"
#include "ops/ops.h"
#include "tensor/error.h"
#include "tensor/npy.h"

using namespace dsvd;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    Tensor x = parse_npy(std::string(reinterpret_cast<const char*>(data), size), "fuzz.npy");
    if (x.dim() == 4 && x.size(1) == 3) {  // predict's batch check (its model run is not fuzzed)
      try {
        check_predict_batch(x, "fuzz.npy");
      } catch (const dsvd::Error&) {
      }
    }
    const bool as_matrices = x.dim() == 3;
    if (as_matrices) lab::check_matrices(x, "fuzz.npy");
    else lab::check_features(x, "fuzz.npy");
    if (x.numel() > 512) return 0;
    const int64_t n = x.size(1), batch = x.size(0);
    Tensor grad = lab::checked_upstream(ones({batch, n * (n + 1) / 2}), batch, n, "upstream");
    MatrixSqrtOptions o;
    if (as_matrices) (void)lab::run_on_matrices(x, grad, o, DType::Float64);
    else (void)lab::run_on_features(x, grad, o, DType::Float64);
  } catch (const dsvd::Error&) {
  }
  return 0;
}
