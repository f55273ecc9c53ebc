// The matrix square root of global covariance pooling, and the whole pooling chain.
//
//   sqrtm(Σ, options)            Σ (B, n, n) -> Q ≈ Σ^{1/2} (B, n, n), full matrix, with the
//                                backward rule chosen by options.method
//   covariance_sqrt_pooling(X)   X (B, C, H, W) -> covariance -> sqrtm -> triu_vec -> float32
//
// The rules (docs/matrix-functions.md §5, §6, §10) are a table (sqrt_rule.h, sqrt_rules.cpp): one
// SqrtRule per rule in its own file, with its name, options, forward, K̃ builder or backward,
// repair sites and audit notes. `svd_lab rules` prints the table.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "ops/matfn/repair.h"
#include "tensor/tensor.h"

namespace dsvd {

// Seb is not a square root: the SEB head's Q + Q·‖Q Sᵀ‖_F (seb.cpp), in the table for its plumbing.
enum class SqrtMethod { Original, Trunc, TopN, Taylor, Pade, PI, PIDeflation, Newton, Exact, ISqrt, MtpLya, MpaLya, Seb };

const char* sqrt_method_name(SqrtMethod method);
// Accepts the names above (and "svd-<name>"); an unknown name throws, listing the valid ones.
SqrtMethod parse_sqrt_method(const std::string& name);
const std::vector<SqrtMethod>& all_sqrt_methods();
// Whether the reference repairs the features' gradient after covariance pooling (§2.2).
bool repairs_feature_gradient(SqrtMethod method);
// Whether the rule's forward is an eigendecomposition (false for isqrt, mtp-lya, mpa-lya).
bool uses_eigendecomposition(SqrtMethod method);
// Whether the rule's output approximates Σ^{1/2} (all but seb).
bool is_square_root(SqrtMethod method);
// (The four above read the rule table.)

struct MatrixSqrtOptions {
  SqrtMethod method = SqrtMethod::Pade;
  int topn_drop = 50;          // TopN: how many of the smallest eigenvalues go to the floor ε
  int taylor_degree = 100;     // Taylor: series degree
  double trunc_limit = 1e10;   // Trunc: clip bound T
  int pi_iterations = 20;      // PI and PI-deflation: power iterations
  int newton_iterations = 10;  // SVD-Newton: Newton–Schulz iterations of its backward
  int isqrt_iterations = 5;    // iSQRT-COV: Newton–Schulz iterations
  int lya_iterations = 8;      // MTP-Lya, MPA-Lya: sign iterations of the Lyapunov backward
  double lya_tolerance = 0;    // > 0: stop them once every ‖B_k − I‖_F < tolerance (reads back)
  std::shared_ptr<MatfnReport> report;  // eigenvalues, repair counts, max |K̃| (may be null)
  // The batch the reference's fixes (repair.h) range over: empty, this process's; set (by
  // distributed/ under --repair-scope global), the global batch of a data-parallel job.
  ReplicaMax repair_across_replicas;
};

// Σ: (B, n, n) symmetric, float32 or float64; the computation runs in Σ's dtype, and so does the
// eigenvalue floor ε (clamp_floor in k_rules.h: 2^-52 in float64, 2^-23 in float32).
// The output is the full (B, n, n) matrix; an upstream gradient G may be any (B, n, n) matrix (full,
// or upper triangular as triu_vec's backward makes it). The returned ∂L/∂Σ is the rule's G_Σ as the
// reference returns it: not symmetrised (the covariance backward adds its transpose). Along any
// symmetric direction E it is the derivative: ⟨G_Σ, E⟩ = d/dt ⟨G, sqrtm(Σ + tE)⟩ where the rule
// is exact (exact; original, pade, trunc and taylor on distinct well-separated eigenvalues;
// newton and isqrt once Newton–Schulz has converged).
Tensor sqrtm(const Tensor& sigma, const MatrixSqrtOptions& options = {});

struct CovariancePoolingOptions {
  MatrixSqrtOptions sqrt;
  DType dtype = DType::Float64;  // the meta-layer's internal dtype (the reference: float64)
};

// X: (B, C, H, W) or (B, C, M) float32 -> (B, C(C+1)/2) float32.
Tensor covariance_sqrt_pooling(const Tensor& features, const CovariancePoolingOptions& options = {});

}  // namespace dsvd
