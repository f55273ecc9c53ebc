// SVD-Padé: the ICCV 2021 proposal, a [50/50] Padé approximant of 1/(1 − r) (docs/matrix-functions.md §5.5).
//
//   K̃_ij = a_ij · P(r_ij) / Q(r_ij),  P, Q of degree 50, evaluated in float64 in ascending order
//   with explicit powers (pw *= r; P += p_m·pw; Q += q_m·pw), r and a as for Taylor.
//
// The coefficients are mpmath's pade(1/(1−x) to degree 100, 50, 50) rounded to float64, embedded
// as exact hex literals. Because 1/(1−x) is rational, Q(x) = (1 − x)·P(x) up to rounding: the
// "approximation" equals 1/(1−r) up to float64 rounding (relative error <= 1e-14 for r <= 0.9,
// ~1e-12 at 0.999, 0.63 at 1 − 2^-52). At a tie (r == 1 exactly) the ascending accumulation gives
// Q(1) = +0.0 and P(1) = −0.549..., so K̃ = −inf for both (i, j) and (j, i); Φ₋ then replaces it by
// the batch-wide most negative finite K̃ (the paper's "6.00e36" never occurs in the code).
// In float32 the same accumulation ends at Q(1) = −2^-23 and P(1) = −0.54903615 (coefficients
// rounded to float32, as PyTorch rounds a Python float for a float32 tensor), so a tie gives the
// finite K̃_ij = K̃_ji = (a_ij·P(1))/Q(1) ≈ +4.6e6/λ_i and nothing is repaired.
#include "ops/matfn/k_rules.h"
#include "ops/ops.h"
#include "ops/matfn/sqrt_rule.h"

namespace dsvd {

const std::array<double, 51>& pade_p() {
  static const std::array<double, 51> p = {
    0x1.0000000000000p+0, 0x1.0f1e304c181bdp+0, 0x1.9b1d59772664ep-3,
    -0x1.e7d116d1531fbp-3, -0x1.70224dd9944ecp-3, 0x1.4c5441eef34c4p-5,
    0x1.d7df183c10b95p-2, 0x1.084f2624b6e1fp-1, 0x1.c5387df9f4c97p-2,
    0x1.1322977b25d41p-1, 0x1.0a1cd84ebd85dp-1, -0x1.688746fcac6f6p-2,
    0x1.110dbf8150799p-2, 0x1.e5815581352a8p-3, 0x1.8edf2572b820cp-3,
    0x1.3885f2bc22d5ep-1, -0x1.032b6db8a1f31p-3, -0x1.0c3861a88a5b8p-4,
    0x1.e9d543fd7fb4fp-6, 0x1.8292f7f2d1ffap-4, 0x1.4a1a80218d531p-2,
    0x1.b2e0c060a005bp-3, 0x1.f40c5d2be2386p-4, 0x1.9d88ad7cb88e9p-4,
    0x1.c4d42a83cc1c6p-4, 0x1.2f483c61dd882p-3, -0x1.fc6d6d259d601p-5,
    0x1.813947894a6aap-2, 0x1.2a25fecd77ff9p-2, 0x1.7fc4a93d52dc3p-2,
    -0x1.8530034dd701dp-4, -0x1.57cea136cd779p-3, -0x1.ddcbc9e1bf65fp-1,
    -0x1.08e4f50e6efdap+0, -0x1.274b85b1915c7p+0, -0x1.7035bdfbb469fp-1,
    -0x1.02db9eec51bdep-9, -0x1.5a308e8100538p-3, -0x1.769638fadff72p-3,
    -0x1.63c3dc2370965p-4, -0x1.32ed7a9fd513ep-1, -0x1.6f64b8e6a8351p-3,
    -0x1.f40bb7173ca44p-2, -0x1.0c1c296bcaef0p-3, -0x1.f45a384ae5081p-6,
    0x1.732f44250b9a4p-3, -0x1.c21d938788472p-5, -0x1.0ea3ba3a91d60p-1,
    -0x1.d311ebd92e5e8p-1, -0x1.0336a5d09d4cep-1, -0x1.4000000000000p-68,
  };
  return p;
}

const std::array<double, 51>& pade_q() {
  static const std::array<double, 51> q = {
    0x1.0000000000000p+0, 0x1.e3c60983037a4p-5, -0x1.b7750a3a669e7p-1,
    -0x1.c17738243cc25p-2, 0x1.debb23defb43cp-5, 0x1.c3375e555121dp-3,
    0x1.ae548ffe324fcp-2, 0x1.c5f9a06ae854bp-5, -0x1.2d97393de3e9ep-4,
    0x1.8432c3f15b7acp-4, -0x1.20b7e58d09c8dp-6, -0x1.be607bcd13bd7p-1,
    0x1.3cca833efe747p-1, -0x1.e4d14c0b5e450p-6, -0x1.5a88c039f426cp-5,
    0x1.a99c52bee99b7p-2, -0x1.7950ce2a4b52bp-1, 0x1.f43cf39173156p-5,
    0x1.86adb2a7ea48bp-4, 0x1.081da6f372126p-4, 0x1.d2eb8449b1a66p-3,
    -0x1.c2a87fc4f5410p-4, -0x1.71b523955dd2fp-4, -0x1.5a0ebebca6a74p-6,
    0x1.3a5be8389c6e4p-7, 0x1.33789c7fdde7ep-5, -0x1.ae6397ab44e03p-3,
    0x1.c0c6f52dfe16ap-2, -0x1.5c4d22ef49ac5p-4, 0x1.567aa9bf6b72ap-4,
    -0x1.e110aa10c89cbp-2, -0x1.2a6d3f1fc3ed5p-4, -0x1.87d821940c081p-1,
    -0x1.9ff101d8f4aa3p-4, -0x1.e6690a3225ecdp-4, 0x1.bcc29acedc9dcp-2,
    0x1.6f32e25cc8184p-1, -0x1.562520054f0c9p-3, -0x1.c65aa79dfa39ap-7,
    0x1.896895d24f57fp-4, -0x1.0674ff1b67011p-1, 0x1.ae2898cc560d3p-2,
    -0x1.3c595aa3e889cp-2, 0x1.6dfda261572ccp-2, 0x1.9b21c4c4dc9c0p-4,
    0x1.b1ba8b2e683b4p-3, -0x1.e3b6a906edac0p-3, -0x1.e503c20432a32p-2,
    -0x1.88dc633d39110p-2, 0x1.9fb68c1122233p-2, 0x1.0336a5d09d4cep-1,
  };
  return q;
}

Tensor k_pade(const Tensor& lambda) {
  SeriesTerms t = series_terms(lambda);
  std::vector<double> p(pade_p().begin(), pade_p().end()), q(pade_q().begin(), pade_q().end());
  return div(mul(t.a, polynomial(t.r, p)), polynomial(t.r, q));
}

namespace {
Tensor build_k(const Tensor& lambda, const MatrixSqrtOptions&) { return k_pade(lambda); }
}  // namespace

extern const SqrtRule pade_rule = {
    .method = SqrtMethod::Pade,
    .name = "pade",
    .summary = "eig forward; K̃ by the [50/50] Padé approximant (the default)",
    .file = "ops/matfn/svd_pade.cpp",
    .options = {},
    .uses_eigendecomposition = true,
    .repairs_feature_gradient = true,
    .forward = svd_forward,
    .k_builder = build_k,
    .fix_k = true,
    .repair_sites = k_rule_sites(true),
    .audit_notes = k_rule_notes(),
};

}  // namespace dsvd
