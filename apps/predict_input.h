// predict's check of an .npy input batch, shared with its fuzz target (fuzz/fuzz_tensor_input.cpp):
// a float32 (N, 3, H, W) batch with N, H, W >= 1 and finite values.
#pragma once
#include <cmath>
#include <string>

#include "tensor/error.h"
#include "tensor/tensor.h"

namespace dsvd {

inline void check_predict_batch(const Tensor& x, const std::string& name) {
  DSVD_CHECK(x.dim() == 4 && x.size(1) == 3, name, ": expected a batch of shape (N, 3, H, W), got ", shape_str(x.sizes()));
  DSVD_CHECK(x.dtype() == DType::Float32, name, ": expected float32, got ", dtype_name(x.dtype()));
  DSVD_CHECK(x.size(0) >= 1 && x.size(2) >= 1 && x.size(3) >= 1, name, ": the batch ", shape_str(x.sizes()), " is empty");
  const Tensor c = x.contiguous();
  const float* p = c.data<float>();
  for (int64_t i = 0; i < c.numel(); ++i)
    DSVD_CHECK(std::isfinite(p[i]), name, ": element ", i, " is ", p[i], " (inputs must be finite)");
}

}  // namespace dsvd
