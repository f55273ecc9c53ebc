#include "ops/matfn/symeig.h"

#include "autograd/autocast_mode.h"
#include "ops/autocast.h"
#include "ops/internal.h"
#include "ops/kernel_table.h"
#include "ops/kernels/linalg.h"

namespace dsvd {

SymEig symeig_descending(const Tensor& sigma_in) {
  const Tensor sigma = autocast::input("symeig", sigma_in);
  AutocastScope full_precision(std::nullopt);  // its inner products stay in its dtype

  DSVD_CHECK(sigma.dim() == 3 && sigma.size(1) == sigma.size(2), "symeig: expects a batch of square matrices (B, n, n), "
             "got shape ", shape_str(sigma.sizes()));
  DSVD_CHECK(is_floating(sigma.dtype()) && !is_reduced_float(sigma.dtype()), "symeig: expects float32 or float64, got ", dtype_name(sigma.dtype()));
  return kernels::dispatch<kernels::SymeigDescendingKernel>(sigma.device())(detail::contiguous_raw(sigma));
}

std::vector<std::pair<int64_t, double>> indefinite_samples(const Tensor& magnitudes, const Tensor& smallest_signed) {
  std::vector<std::pair<int64_t, double>> out;
  if (!smallest_signed.defined() || !magnitudes.defined() || magnitudes.numel() == 0) return out;
  const int64_t batch = magnitudes.size(0), n = magnitudes.size(1);
  const double eps = machine_epsilon(magnitudes.dtype());
  auto smallest = to_vector(smallest_signed);
  auto values = to_vector(magnitudes);  // descending: the first of each row is max|w|
  for (int64_t b = 0; b < batch; ++b)
    if (smallest[size_t(b)] < -double(n) * eps * values[size_t(b * n)]) out.emplace_back(b, smallest[size_t(b)]);
  return out;
}

}  // namespace dsvd
