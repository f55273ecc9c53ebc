// svd_lab's shared pieces: reading the rule options from the command line, running the layer on
// features or on matrices, and the per-call numbers every command reports.
#pragma once
#include <string>
#include <vector>

#include "apps/cli.h"
#include "ops/matfn/sqrtm.h"
#include "tensor/tensor.h"

namespace dsvd::lab {

// --rule R [--iters N] [--degree D] [--drop K] [--limit T]; --iters sets the iteration count of
// the rules that iterate (isqrt, newton, pi, pi-deflation).
MatrixSqrtOptions rule_options(const CommandLine& cli, const std::string& rule);
DType dtype_option(const CommandLine& cli, DType fallback);

struct LayerRun {
  Tensor output;      // layer: (B, L) float32; matrix: (B, L) or (B, n, n) in S's dtype
  Tensor grad_input;  // ∂L/∂input: features (B,C,H,W) float32, or ∂L/∂S (B,n,n) in S's dtype
  std::shared_ptr<MatfnReport> report;
  double forward_ms = 0, backward_ms = 0;
};

// Covariance -> matrix square root -> vectorisation on features (B, C, H, W), with upstream
// gradient `grad` (B, L) or (B, L, 1).
LayerRun run_on_features(const Tensor& features, const Tensor& grad, MatrixSqrtOptions options, DType dtype);
// Matrix square root on symmetric matrices S (B, n, n), computed in `dtype`: the full (B, n, n)
// root when `full`, else its vectorised upper triangle (B, L); output and gradients in S's dtype.
LayerRun run_on_matrices(const Tensor& matrices, const Tensor& grad, MatrixSqrtOptions options, DType dtype,
                         bool full = false);

// Input checks with one clear message each: shapes, finiteness, symmetry.
void check_features(const Tensor& x, const std::string& name);
void check_matrices(const Tensor& s, const std::string& name);
// (B, L) or (B, L, 1) -> (B, L), in the gradient's own dtype.
Tensor checked_upstream(const Tensor& grad, int64_t batch, int64_t n, const std::string& name);
// (B, n, n), for the full square root.
Tensor checked_full_upstream(const Tensor& grad, int64_t batch, int64_t n, const std::string& name);
// svd_lab matrix --output full|triu; default: full for isqrt and newton (the reference's Sqrtm
// returns the matrix), triu for the SVD rules, and full whenever the upstream gradient is (B, n, n).
bool full_output_option(const CommandLine& cli, SqrtMethod method, const Tensor& grad, int64_t n);

// What a user must hear about a run: NaN in the results (with the reason when it is Newton–Schulz
// on a zero-trace matrix) and inputs that are not positive semi-definite (|λ| is used). `matrices`
// are the Σ the rule saw (may be undefined).
struct RunWarning {
  enum class Kind { NanResult, Indefinite } kind;
  std::string text;
};
std::vector<RunWarning> result_warnings(SqrtMethod method, const LayerRun& run, const Tensor& matrices);
std::vector<int64_t> zero_trace_samples(const Tensor& matrices);

// report.json: rule, shapes, timings, eigenvalues with a per-sample summary, repair counts.
std::string report_json(const std::string& rule, const LayerRun& run);

// The commands.
int command_layer(const CommandLine& cli);
int command_matrix(const CommandLine& cli);
int command_compare(const CommandLine& cli);
int command_experiment(const CommandLine& cli);
int command_rules(const CommandLine& cli);

// The rule names of the table, in its order, space-separated (for --help).
std::string rule_names();

}  // namespace dsvd::lab
