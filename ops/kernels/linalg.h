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

// The reference's overflow repair on a contiguous tensor (ops/matfn/repair.h): every +inf
// (positive) or −inf is replaced by the largest (smallest) other entry, or NaN when one is
// present. `count` is an int64 (1) tensor on t's device: the number replaced is added to it
// there, so that nobody waits for the count until someone reads it.
struct ReplaceInfinityKernel {
  static constexpr const char* name = "repair_infinities";
  using Fn = void(const Tensor& t, bool positive, const Tensor& count);
};
// NaN -> 0 in place on a contiguous tensor; the number replaced is added to `count` as above.
struct ReplaceNanWithZeroKernel {
  static constexpr const char* name = "repair_nan_to_zero";
  using Fn = void(const Tensor& t, const Tensor& count);
};

}  // namespace dsvd::kernels
