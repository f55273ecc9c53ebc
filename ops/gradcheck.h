// gradcheck: compares an op's analytic gradient with central finite differences, in float64.
//
// As in Caffe's checker, a random linear objective L = sum(R ∘ f(x)) is put on the function's
// output; dL/dx from backward() is compared, element by element, with
// (L(x + eps·e_j) − L(x − eps·e_j)) / (2·eps). An element passes when
// |analytic − numeric| <= atol + rtol·|numeric|. On failure the result names the worst element:
// input, index, analytic and numeric value.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "tensor/tensor.h"

namespace dsvd {

struct GradcheckOptions {
  double eps = 1e-6;
  double atol = 1e-5;
  double rtol = 1e-3;
  std::vector<bool> check_input;  // which inputs to check (default: every float input)
  uint64_t seed = 1234;           // for the random objective R
  // Elements where |x_j| < kink_radius (e.g. relu, abs at 0) are skipped.
  double kink_radius = 0;
};

struct GradcheckResult {
  bool ok = true;
  std::string message;       // empty when ok; the worst element otherwise
  double max_abs_error = 0;  // over all checked elements
  int64_t checked = 0;       // number of elements compared
};

using DifferentiableFn = std::function<Tensor(const std::vector<Tensor>&)>;

// `inputs` must be float64. Each is used as a fresh leaf with the same values and the same
// strides (so a non-contiguous input stays non-contiguous inside fn).
GradcheckResult gradcheck(const DifferentiableFn& fn, const std::vector<Tensor>& inputs,
                          const GradcheckOptions& options = {});

}  // namespace dsvd
