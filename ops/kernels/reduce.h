// Kernel families of the reductions (ops/reduce.cpp) and of the loss (ops/loss.cpp), over a
// contiguous (outer, inner) buffer whose rows are reduced. Deterministic whatever the thread
// count; float32 accumulates in float64 on the CPU.
#pragma once
#include <cstdint>

#include "tensor/tensor.h"

namespace dsvd::kernels {

// out[o] = Σ_i rows[o, i]; out float (float input) or int64.
struct SumRowsKernel {
  static constexpr const char* name = "sum";
  static constexpr unsigned float32_outputs = 1u << 3;  // ops/kernels/float32_compute.h
  using Fn = void(const Tensor& rows, int64_t outer, int64_t inner, const Tensor& out);
};
// out[o] = Σ_i (rows[o, i] − mean_o)² / (inner − correction).
struct VarRowsKernel {
  static constexpr const char* name = "var";
  static constexpr unsigned float32_outputs = 1u << 4;  // ops/kernels/float32_compute.h
  static constexpr bool float32_outputs_accumulate = true;  // adds into the op's zeros
  using Fn = void(const Tensor& rows, int64_t outer, int64_t inner, int64_t correction, const Tensor& out);
};
// values[o] = max_i rows[o, i], indices[o] = the first argmax (NaN wins, as in PyTorch).
struct MaxRowsKernel {
  static constexpr const char* name = "max";
  static constexpr unsigned float32_outputs = 1u << 3;  // ops/kernels/float32_compute.h
  using Fn = void(const Tensor& rows, int64_t outer, int64_t inner, const Tensor& values, const Tensor& indices);
};
// max's backward: out (outer, inner), zeroed by the op, gets out[o, indices[o]] = g[o].
struct ScatterRowsKernel {
  static constexpr const char* name = "max_backward";
  static constexpr unsigned float32_outputs = 1u << 4;  // ops/kernels/float32_compute.h
  static constexpr bool float32_outputs_accumulate = true;  // adds into the op's zeros
  using Fn = void(const Tensor& g, const Tensor& indices, int64_t outer, int64_t inner, const Tensor& out);
};

// y = log_softmax of each row of a contiguous (rows, cols) x.
struct LogSoftmaxRowsKernel {
  static constexpr const char* name = "log_softmax";
  using Fn = void(const Tensor& x, const Tensor& y, int64_t rows, int64_t cols);
};
// loss (0-d, on logp's device) = mean cross-entropy of log-probabilities logp (n, c) against int64
// targets (n) on the same device, label smoothing ε. A target outside [0, c) is an error naming
// the sample (a device may report it at its next synchronisation).
struct CrossEntropyForwardKernel {
  static constexpr const char* name = "cross_entropy";
  using Fn = void(const Tensor& logp, const Tensor& targets, double smoothing, const Tensor& loss);
};
// grad (n, c) = (softmax − q)/n · grad_loss, q = (1 − ε)·onehot(t) + ε/c; grad_loss 0-d on logp's device.
struct CrossEntropyBackwardKernel {
  static constexpr const char* name = "cross_entropy_backward";
  using Fn = void(const Tensor& logp, const Tensor& targets, double smoothing, const Tensor& grad_loss,
                  const Tensor& grad);
};

}  // namespace dsvd::kernels
