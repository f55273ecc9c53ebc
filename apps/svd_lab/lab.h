// svd_lab's shared pieces: reading the rule options from the command line, running the layer on
// features or on matrices, and the per-call numbers every command reports.
#pragma once
#include <string>

#include "apps/cli.h"
#include "ops/matfn/matrix_sqrt.h"
#include "tensor/tensor.h"

namespace dsvd::lab {

// --rule R [--iters N] [--degree D] [--drop K] [--limit T]; --iters sets the iteration count of
// the rules that iterate (isqrt, newton, pi, pi-deflation).
MatrixSqrtOptions rule_options(const CommandLine& cli, const std::string& rule);
DType dtype_option(const CommandLine& cli, DType fallback);

struct LayerRun {
  Tensor output;      // (B, L) float32
  Tensor grad_input;  // ∂L/∂input: features (B,C,H,W) float32, or ∂L/∂S (B,n,n) in S's dtype
  std::shared_ptr<MatfnReport> report;
  double forward_ms = 0, backward_ms = 0;
};

// Covariance -> matrix square root -> vectorisation on features (B, C, H, W), with upstream
// gradient `grad` (B, L) or (B, L, 1).
LayerRun run_on_features(const Tensor& features, const Tensor& grad, MatrixSqrtOptions options, DType dtype);
// Matrix square root -> vectorisation on symmetric matrices S (B, n, n), computed in `dtype`.
LayerRun run_on_matrices(const Tensor& matrices, const Tensor& grad, MatrixSqrtOptions options, DType dtype);

// Input checks with one clear message each: shapes, finiteness, symmetry.
void check_features(const Tensor& x, const std::string& name);
void check_matrices(const Tensor& s, const std::string& name);
Tensor checked_upstream(const Tensor& grad, int64_t batch, int64_t n, const std::string& name);

// report.json: rule, shapes, timings, eigenvalues with a per-sample summary, repair counts.
std::string report_json(const std::string& rule, const LayerRun& run);

// The commands.
int command_layer(const CommandLine& cli);
int command_matrix(const CommandLine& cli);
int command_compare(const CommandLine& cli);
int command_experiment(const CommandLine& cli);

}  // namespace dsvd::lab
