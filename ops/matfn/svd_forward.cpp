// The forward every SVD rule shares (docs/matrix-functions.md §4.1), its spectrum notes for the
// audit, and the K step of the K̃ rules on its saved tensors.
#include <algorithm>
#include <cmath>

#include "autograd/audit.h"
#include "ops/matfn/eig_backward.h"
#include "ops/matfn/k_rules.h"
#include "ops/matfn/sqrt_rule.h"
#include "ops/matfn/symeig.h"
#include "ops/ops.h"

namespace dsvd {
namespace {

// The spectrum of this call on the sqrtm trace line: range, how many eigenvalues sit at the
// floor, the smallest gap, the condition numbers, and the indefinite samples. Reads λ back.
void note_spectrum(const Tensor& lambda, const SymEig& eig) {
  auto l = to_vector(lambda);
  const int64_t n = lambda.size(1), batch = lambda.size(0);
  double lo = INFINITY, hi = 0, gap = INFINITY, cond = 0, cond_max = 0;
  int64_t floor_count = 0, cond_max_sample = 0;
  for (int64_t b = 0; b < batch; ++b) {
    const double* row = l.data() + b * n;
    cond += row[0] / row[n - 1] / double(batch);
    if (row[0] / row[n - 1] > cond_max) {
      cond_max = row[0] / row[n - 1];
      cond_max_sample = b;
    }
    for (int64_t k = 0; k < n; ++k) {
      lo = std::min(lo, row[k]);
      hi = std::max(hi, row[k]);
      floor_count += row[k] <= clamp_floor(lambda.dtype());
      if (k > 0) gap = std::min(gap, row[k - 1] - row[k]);
    }
  }
  audit::note("eig_min", lo);
  audit::note("eig_max", hi);
  audit::note("eig_at_clamp_floor", double(floor_count));
  audit::note("eig_smallest_gap", gap);
  audit::note("condition_number_mean", cond);
  audit::note("condition_number_max", cond_max);
  audit::note("condition_number_max_sample", double(cond_max_sample));
  auto bad = indefinite_samples(eig.values, eig.smallest);
  audit::note("indefinite_samples", double(bad.size()));
  if (!bad.empty())
    audit::note("most_negative_eigenvalue",
                std::min_element(bad.begin(), bad.end(), [](auto& a, auto& b) { return a.second < b.second; })->second);
}

}  // namespace

SqrtForward svd_forward(const Tensor& sigma, const MatrixSqrtOptions& options) {
  return svd_forward_transformed(sigma, options, nullptr);
}

SqrtForward svd_forward_transformed(const Tensor& sigma, const MatrixSqrtOptions& options,
                                    Tensor (*transform)(const Tensor& values, const MatrixSqrtOptions& options),
                                    void (*extend)(SqrtForward& forward)) {
  SymEig eig = symeig_descending(sigma);
  Tensor s = transform ? transform(eig.values, options) : eig.values;
  const double floor = clamp_floor(s.dtype());
  Tensor lambda = where(le(s, floor), scalar_tensor(floor, s.dtype()), s);
  Tensor out = matmul(mul(eig.vectors, sqrt(lambda).unsqueeze(1)), eig.vectors.transpose(1, 2));
  if (options.report) {
    options.report->eigenvalues = lambda;
    options.report->eigenvalue_magnitudes = eig.values;  // read only when someone asks: no sync here
    options.report->smallest_eigenvalues = eig.smallest;
  }
  SqrtForward result{out, {{"sigma", sigma}, {"eigenvectors", eig.vectors}, {"eigenvalues", lambda}}};
  if (extend) extend(result);
  if (audit::enabled()) note_spectrum(lambda, eig);
  return result;
}

const std::vector<std::string>& spectrum_notes() {
  static const std::vector<std::string> notes = {"eig_min",
                                                 "eig_max",
                                                 "eig_at_clamp_floor",
                                                 "eig_smallest_gap",
                                                 "condition_number_mean",
                                                 "condition_number_max",
                                                 "condition_number_max_sample",
                                                 "indefinite_samples"};
  return notes;
}

const std::vector<std::string>& k_rule_notes() {
  static const std::vector<std::string> notes = [] {
    auto n = spectrum_notes();
    n.push_back("max_abs_k");
    return n;
  }();
  return notes;
}

const std::vector<std::string>& k_rule_sites(bool fix_k) {
  static const std::vector<std::string> with_k = {"K", "inner", "grad_sigma", "grad_features"};
  static const std::vector<std::string> without_k = {"inner", "grad_sigma", "grad_features"};
  return fix_k ? with_k : without_k;
}

Tensor k_step(const Tensor& grad_q, const FunctionNode& saved, const Tensor& k_tilde, bool fix_k,
              const MatrixSqrtOptions& options) {
  const Tensor& v = saved.saved_tensor("eigenvectors");
  PowerGradients power = power_backward(grad_q, v, saved.saved_tensor("eigenvalues"));
  return k_rule_backward(power, v, k_tilde, fix_k, options.report.get(), options.repair_across_replicas);
}

}  // namespace dsvd
