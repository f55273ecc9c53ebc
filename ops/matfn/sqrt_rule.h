// The matrix square root as a table of rules: what one rule is, and the pieces several rules share.
//
// sqrtm (sqrtm.cpp) is only the skeleton: check Σ, look the rule up, run its forward without
// recording, record one autograd node with the rule's named saved tensors, and in the backward
// call the rule (or, for a K̃-based rule, build K̃ and run the shared K step of eig_backward.h).
// Every rule is one `SqrtRule` value defined in its own file; sqrt_rules.cpp lists them in the
// order of SqrtMethod. Adding a rule: a value of SqrtMethod, its file with its SqrtRule, its line
// in sqrt_rules.cpp, its tests (tests/matfn/test_sqrt_rules.cpp checks every entry's claims).
#pragma once
#include <string>
#include <vector>

#include "autograd/function.h"
#include "autograd/node.h"
#include "ops/matfn/sqrtm.h"

namespace dsvd {

// What a rule's forward returns: Q ≈ Σ^{1/2} and the tensors its backward reads, by name.
struct SqrtForward {
  Tensor out;
  std::vector<Saved> saved;
};

struct SqrtRule {
  SqrtMethod method;
  const char* name;     // as --head, svd_lab and the trace spell it ("pade")
  const char* summary;  // "forward; backward", one line
  const char* file;     // where the rule lives, for the reader of a trace or a table
  // The MatrixSqrtOptions fields the rule reads (besides `method` and `report`).
  std::vector<std::string> options;
  bool uses_eigendecomposition;   // its forward is the eigendecomposition (svd_forward)
  // The reference repairs ∂L/∂X after covariance pooling (docs/matrix-functions.md §2.2).
  bool repairs_feature_gradient;
  // Its output approximates Σ^{1/2} (false for SEB, whose forward error is not measured).
  bool square_root = true;

  // Forward, run without recording; Σ (B, n, n) float32/float64 is already checked.
  SqrtForward (*forward)(const Tensor& sigma, const MatrixSqrtOptions& options);

  // Backward, one of the two:
  //   k_builder: K̃ from the clamped eigenvalues λ (B, n) -> the shared K step (k_step), which
  //              applies Φ to K̃ first when fix_k;
  //   backward:  G = ∂L/∂Q (in Σ's dtype) and the forward's saved tensors -> G_Σ.
  Tensor (*k_builder)(const Tensor& lambda, const MatrixSqrtOptions& options) = nullptr;
  bool fix_k = false;
  Tensor (*backward)(const Tensor& grad_q, const FunctionNode& saved, const MatrixSqrtOptions& options) = nullptr;

  // Where the reference's fixes act (repair.h) in this rule's backward and, when
  // repairs_feature_gradient, in covariance pooling's ("grad_features"): the report's keys.
  std::vector<std::string> repair_sites;
  // The audit notes only this rule (or its family) writes on the sqrtm trace line; every rule
  // also writes grad_norm_in and grad_norm_out.
  std::vector<std::string> audit_notes;
};

// The table, in the order of SqrtMethod; sqrt_rule(method) throws for a value not in it.
const std::vector<const SqrtRule*>& sqrt_rules();
const SqrtRule& sqrt_rule(SqrtMethod method);

// --- Shared by the rules whose forward is the eigendecomposition (svd_forward.cpp) -------------

// docs/matrix-functions.md §4.1: eigendecomposition, the clamp at the dtype's floor ε,
// Q = V diag(√λ) Vᵀ. Saves "sigma", "eigenvectors" and "eigenvalues" (λ clamped); fills the
// report's eigenvalues; in audit mode notes the spectrum (spectrum_notes). The transformed form
// changes the descending |w| before the clamp (TopN); `extend` then builds on the result (SEB's
// branches) before the notes, so that they land on the sqrtm trace line.
SqrtForward svd_forward(const Tensor& sigma, const MatrixSqrtOptions& options);
SqrtForward svd_forward_transformed(const Tensor& sigma, const MatrixSqrtOptions& options,
                                    Tensor (*transform)(const Tensor& values, const MatrixSqrtOptions& options),
                                    void (*extend)(SqrtForward& forward) = nullptr);
// The audit notes of svd_forward (most_negative_eigenvalue only when a sample is indefinite).
const std::vector<std::string>& spectrum_notes();
// The repair sites of a K̃ rule: Φ on K̃ (when fix_k), on `inner` and on G_Σ in the K step, then
// covariance pooling's fixes of ∂L/∂X ("grad_features").
const std::vector<std::string>& k_rule_sites(bool fix_k);
// The audit notes of a K̃ rule: the spectrum and the largest |K̃| after the fixes.
const std::vector<std::string>& k_rule_notes();

// The K step of a K̃ rule on svd_forward's saved tensors (eig_backward.h's power and K steps);
// repairs counted in options.report, over options.repair_across_replicas' batch.
Tensor k_step(const Tensor& grad_q, const FunctionNode& saved, const Tensor& k_tilde, bool fix_k,
              const MatrixSqrtOptions& options);

// --- Shared by the fast rules mtp-lya and mpa-lya (lyapunov_rule.cpp) ----------------------------

// Their forward's result: Q, with "sigma", "sqrt" (= Q) and "root_scale" (√‖Σ‖_F) saved; in
// audit mode the range of ‖Σ‖_F over the batch (frobenius_scale_min, frobenius_scale_max).
SqrtForward lyapunov_rule_forward(const Tensor& sigma, const Tensor& out, const Tensor& root_scale);
// Their backward: the Lyapunov equation Q X + X Q = G by the sign iteration (lyapunov.h), with
// options.lya_iterations and options.lya_tolerance; in audit mode sign_iterations and
// sign_residual (the largest ‖B − I‖_F at the end).
Tensor lyapunov_rule_backward(const Tensor& grad_q, const FunctionNode& saved, const MatrixSqrtOptions& options);
const std::vector<std::string>& lyapunov_rule_notes();

}  // namespace dsvd
