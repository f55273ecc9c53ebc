// The matrix square root of global covariance pooling, and the whole pooling chain.
//
//   sqrtm(Σ, options)            Σ (B, n, n) -> Q ≈ Σ^{1/2} (B, n, n), full matrix, with the
//                                backward rule chosen by options.method
//   covariance_sqrt_pooling(X)   X (B, C, H, W) -> covariance -> sqrtm -> triu_vec -> float32
//
// Methods (docs/matrix-functions.md §5, §6; the file that holds each rule):
//   original      eig forward; K̃ = 1/(λi−λj), ±inf -> batch max/min         svd_original.cpp
//   trunc         eig forward; K̃ clipped to ±1e10                           svd_trunc.cpp
//   topn          eig forward with the 50 smallest λ set to ε; Original      svd_topn.cpp
//   taylor        eig forward; K̃ by a degree-100 Taylor series               svd_taylor.cpp
//   pade          eig forward; K̃ by the [50/50] Padé approximant (default)   svd_pade.cpp
//   pi            eig forward; whole-V power iteration, as coded (≈ 0 grad)  svd_pi.cpp
//   pi-deflation  eig forward; per-eigenvector PI with deflation (NeurIPS'19) svd_pi_deflation.cpp
//   newton        eig forward; Newton–Schulz backward (10 iterations)        newton_schulz.cpp
//   exact         eig forward; Daleckii–Krein S_ij/(√λi+√λj), finite at ties svd_exact.cpp
//   isqrt         Newton–Schulz forward and backward (5 iterations), no eig  newton_schulz.cpp
//   mtp-lya       Taylor polynomial forward, Lyapunov backward (8), no eig   fast_sqrt.cpp, lyapunov.cpp
//   mpa-lya       [5/5] Padé forward (one solve), Lyapunov backward, no eig  fast_sqrt.cpp, lyapunov.cpp
// Shared: symeig.cpp (decomposition), eig_backward.cpp (§4.2, §4.4), repair.cpp (§4.3).
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "ops/matfn/repair.h"
#include "tensor/tensor.h"

namespace dsvd {

enum class SqrtMethod { Original, Trunc, TopN, Taylor, Pade, PI, PIDeflation, Newton, Exact, ISqrt, MtpLya, MpaLya };

const char* sqrt_method_name(SqrtMethod method);
// Accepts the names above (and "svd-<name>"); an unknown name throws, listing the valid ones.
SqrtMethod parse_sqrt_method(const std::string& name);
const std::vector<SqrtMethod>& all_sqrt_methods();
// Whether the reference repairs the features' gradient after covariance pooling (§2.2).
bool repairs_feature_gradient(SqrtMethod method);
// Whether the rule's forward is an eigendecomposition (false for isqrt, mtp-lya, mpa-lya).
bool uses_eigendecomposition(SqrtMethod method);

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
