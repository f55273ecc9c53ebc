// Kernel families of dense linear algebra (ops/matmul.cpp, ops/solve.cpp, ops/matfn/symeig.cpp,
// ops/matfn/repair.cpp).
#pragma once
#include <cstdint>

#include "ops/matfn/symeig.h"
#include "tensor/tensor.h"

namespace dsvd::kernels {

// out (B, m, n) <- a (B, m, k) · b (B, k, n); a and b any views (transposed or batch stride 0),
// out contiguous.
struct BatchedGemmKernel {
  static constexpr const char* name = "matmul";
  static constexpr unsigned float32_outputs = 1u << 2;  // ops/kernels/float32_compute.h
  using Fn = void(const Tensor& a, const Tensor& b, const Tensor& out);
};

// out (B, n, m) <- A⁻¹·b for a (B, n, n), b (B, n, m), any layouts. A singular sample is an
// error naming it.
struct BatchedSolveKernel {
  static constexpr const char* name = "solve";
  using Fn = void(const Tensor& a, const Tensor& b, const Tensor& out);
};

// The |λ|-descending eigendecomposition of ops/matfn/symeig.h of a contiguous (B, n, n) batch of
// symmetric matrices; NaN or Inf in a sample is an error naming the sample.
struct SymeigDescendingKernel {
  static constexpr const char* name = "symeig";
  using Fn = SymEig(const Tensor& sigma);
};

// The reference's overflow repair on a contiguous tensor (ops/matfn/repair.h), in two steps so
// that the extremes may be combined over the replicas of a data-parallel job in between.
// Scan: `summary`, a float64 (3) tensor on t's device, <- [a NaN is present (1) or not (0),
// another entry than +inf (−inf) is present (1 or 0), the largest other entry (positive) or
// minus the smallest (negative), −inf when there is none]: oriented so that the summaries of
// several tensors combine by an element-wise max.
struct InfinityScanKernel {
  static constexpr const char* name = "repair_infinities_scan";
  using Fn = void(const Tensor& t, bool positive, const Tensor& summary);
};
// Replace: every +inf (positive) or −inf of t becomes NaN when the summary has a NaN, else the
// summary's extreme when it has another entry (else they stay). `count` is an int64 (1) tensor on
// t's device: the number replaced is added to it there, so that nobody waits for the count until
// someone reads it.
struct ReplaceInfinityKernel {
  static constexpr const char* name = "repair_infinities";
  using Fn = void(const Tensor& t, bool positive, const Tensor& summary, const Tensor& count);
};
// NaN -> 0 in place on a contiguous tensor; the number replaced is added to `count` as above.
struct ReplaceNanWithZeroKernel {
  static constexpr const char* name = "repair_nan_to_zero";
  using Fn = void(const Tensor& t, const Tensor& count);
};

// The fast square roots' two halves as one kernel each, one block per matrix, for the small
// matrices where their separate products and solve are bound by kernel launches (64 SPD 48×48
// matrices: about 130 launches for MPA-Lya's forward and backward). ops/matfn/fast_sqrt.cpp and
// ops/matfn/lyapunov.cpp take them where a device registers them and fused_sqrt_fits(n, dtype);
// the formulas are those of fast_sqrt.h and lyapunov.h, the coefficients passed in (one copy).
struct PadeCoefficients {
  double p[6], q[6];  // numerator and denominator of √(1 − z)'s [5/5] approximant
};
// a (B, n, n) contiguous; per matrix s = ‖A‖_F, Z = I − A/s: out <- √s·Q(Z)⁻¹P(Z), or with
// `inverse` P(Z)⁻¹Q(Z)/√s; root_scale (B, 1, 1) <- √s.
struct MpaForwardKernel {
  static constexpr const char* name = "mpa_forward";
  using Fn = void(const Tensor& a, const PadeCoefficients& c, bool inverse, const Tensor& out, const Tensor& root_scale);
};
// a (B, n, n) contiguous; per matrix s = ‖A‖_F, Z = I − A/s: out <- √s·Σ_{k<=10} a_k Z^k (MTP's
// Taylor polynomial of √(1 − z)); root_scale (B, 1, 1) <- √s.
struct TaylorCoefficients {
  double a[11];
};
struct MtpForwardKernel {
  static constexpr const char* name = "mtp_forward";
  using Fn = void(const Tensor& a, const TaylorCoefficients& c, const Tensor& out, const Tensor& root_scale);
};
// The sign iteration of lyapunov.h, `iterations` steps without a tolerance stop: x <- ½ C_final
// from B₀ = y/root_scale, C₀ = g/root_scale; y, g, x (B, n, n) contiguous.
struct LyapunovSignKernel {
  static constexpr const char* name = "lyapunov_sign";
  using Fn = void(const Tensor& y, const Tensor& g, const Tensor& root_scale, int iterations, const Tensor& x);
};
// Both keep five n×n matrices of one sample in a block's shared memory: at most 160 KiB (what
// an A100 block may opt into; n <= 64 in float64).
inline bool fused_sqrt_fits(int64_t n, DType t) {
  return (t == DType::Float32 || t == DType::Float64) && 5 * n * n * int64_t(itemsize(t)) <= (int64_t(160) << 10);
}

}  // namespace dsvd::kernels
