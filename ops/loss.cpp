// log_softmax, cross_entropy and top-k accuracy.
//
//   log_softmax: y = x − max − log Σ exp(x − max);  backward: g − softmax · Σ g
//   cross_entropy (mean over N, label smoothing ε, C classes):
//     L = −(1/N) Σ_n [(1 − ε) y_{n,t_n} + (ε/C) Σ_c y_{n,c}],  y = log_softmax(logits)
//     backward: ∂L/∂logits = (softmax − q)/N · g, q = (1 − ε)·onehot(t) + ε/C
#include <algorithm>

#include "ops/autocast.h"
#include "ops/internal.h"
#include "ops/kernel_table.h"
#include "ops/kernels/reduce.h"
#include "ops/nn_ops.h"

namespace dsvd {

Tensor log_softmax(const Tensor& x_in, int64_t dim) {
  const Tensor x = autocast::input("log_softmax", x_in);

  DSVD_CHECK(is_floating(x.dtype()), "log_softmax: expects float32 or float64, got ", dtype_name(x.dtype()));
  DSVD_CHECK(x.dim() >= 1, "log_softmax: expects at least one dimension");
  int64_t d = wrap_dim(dim, x.dim(), "log_softmax");
  Tensor moved = detail::contiguous_raw(x.detach().transpose(d, -1));
  const int64_t cols = moved.size(-1), rows = moved.numel() / std::max<int64_t>(1, cols);
  Tensor y = empty(moved.sizes(), x.dtype(), x.device());
  kernels::dispatch<kernels::LogSoftmaxRowsKernel>(x.device())(moved, y, rows, cols);
  Tensor out = detail::contiguous_raw(y.transpose(d, -1));
  return record_op("log_softmax", {out}, {x}, {{"result", out}}, [d](const std::vector<Tensor>& g, FunctionNode& node) {
    const Tensor& y = node.saved_tensor(0);
    return std::vector<Tensor>{sub(g[0], mul(exp(y), sum(g[0], {d}, true)))};
  })[0];
}

Tensor cross_entropy(const Tensor& logits_in, const Tensor& targets, double label_smoothing) {
  const Tensor logits = autocast::input("cross_entropy", logits_in);

  DSVD_CHECK(logits.dim() == 2, "cross_entropy: logits must be (N, C), got ", shape_str(logits.sizes()));
  DSVD_CHECK(targets.dim() == 1 && targets.size(0) == logits.size(0) && targets.dtype() == DType::Int64,
             "cross_entropy: targets must be int64 of shape [", logits.size(0), "], got ", dtype_name(targets.dtype()),
             " ", shape_str(targets.sizes()));
  DSVD_CHECK(label_smoothing >= 0 && label_smoothing <= 1, "cross_entropy: label_smoothing must be in [0, 1], got ",
             label_smoothing);
  DSVD_CHECK(is_floating(logits.dtype()), "cross_entropy: logits must be float, got ", dtype_name(logits.dtype()));
  const int64_t n = logits.size(0), c = logits.size(1);
  DSVD_CHECK(n > 0 && c > 0, "cross_entropy: empty logits of shape ", shape_str(logits.sizes()));
  DSVD_CHECK(targets.device().is_cpu() || targets.device() == logits.device(), "cross_entropy: targets are on ",
             targets.device().str(), ", the logits on ", logits.device().str());
  const Device device = logits.device();
  Tensor in = detail::contiguous_raw(logits);
  Tensor t = detail::contiguous_raw(targets.to(device));
  Tensor logp = empty({n, c}, logits.dtype(), device);
  kernels::dispatch<kernels::LogSoftmaxRowsKernel>(device)(in, logp, n, c);
  Tensor loss = empty({}, logits.dtype(), device);
  kernels::dispatch<kernels::CrossEntropyForwardKernel>(device)(logp, t, label_smoothing, loss);
  const double eps = label_smoothing;
  return record_op("cross_entropy", {loss}, {logits}, {{"log_probabilities", logp}, {"targets", t}},
                   [n, c, eps](const std::vector<Tensor>& g, FunctionNode& node) {
                     const Tensor& lp = node.saved_tensor(0);
                     Tensor grad = empty({n, c}, lp.dtype(), lp.device());
                     Tensor gl = detail::contiguous_raw(g[0].to(lp.device()).to(lp.dtype()));
                     kernels::dispatch<kernels::CrossEntropyBackwardKernel>(lp.device())(lp, node.saved_tensor(1), eps,
                                                                                         gl, grad);
                     return std::vector<Tensor>{grad};
                   })[0];
}

Tensor topk_correct_counts(const Tensor& logits, const Tensor& targets, const std::vector<int64_t>& ks) {
  DSVD_CHECK(logits.dim() == 2 && targets.dim() == 1 && targets.size(0) == logits.size(0) &&
                 targets.dtype() == DType::Int64,
             "topk_correct: expects logits (N, C) and int64 targets (N), got ", shape_str(logits.sizes()), " and ",
             shape_str(targets.sizes()));
  DSVD_CHECK(logits.device() == targets.device(), "topk_correct: logits on ", logits.device().str(), ", targets on ",
             targets.device().str());
  const int64_t c = logits.size(1);
  if (targets.device().is_cpu()) {  // on a GPU cross_entropy has checked them (without waiting)
    const Tensor t = targets.contiguous();
    for (int64_t i = 0; i < t.numel(); ++i) {
      const int64_t target = t.data<int64_t>()[i];
      DSVD_CHECK(target >= 0 && target < c, "topk_correct: target ", target, " of sample ", i, " is outside [0, ", c, ")");
    }
  }
  NoGradGuard no_grad;
  const Tensor v = logits.detach();
  // The target's rank in its row: the classes scoring strictly higher, plus the equal ones that
  // come before it. It is among the k largest when rank < k. (A NaN score ranks 0, as its
  // comparisons are all false.)
  const Tensor classes = arange(c).to(v.device()).unsqueeze(0);   // (1, C)
  const Tensor target = targets.unsqueeze(1);                      // (N, 1)
  const Tensor is_target = eq(classes, target);                    // (N, C)
  const Tensor score = sum(where(is_target, v, zeros_like(v)), {1}, true);  // v[i, t_i], (N, 1)
  const Tensor rank = add(sum(gt(v, score), {1}),
                          sum(mul(eq(v, score).to(DType::Int64), lt(classes, target).to(DType::Int64)), {1}));
  std::vector<Tensor> counts;
  for (int64_t k : ks) counts.push_back(sum(lt(rank, double(k))));
  return stack(counts);
}

std::vector<int64_t> topk_correct(const Tensor& logits, const Tensor& targets, const std::vector<int64_t>& ks) {
  std::vector<int64_t> out;
  for (double count : to_vector(topk_correct_counts(logits, targets, ks))) out.push_back(int64_t(count));
  return out;
}

}  // namespace dsvd
