#include "ops/gradcheck.h"

#include <cmath>
#include <cstring>
#include <sstream>

#include "autograd/grad_mode.h"
#include "ops/ops.h"
#include "tensor/random.h"

namespace dsvd {
namespace {

// A leaf with the values and geometry of `t` over its own storage.
Tensor fresh_leaf_like(const Tensor& t) {
  // Copy the whole underlying storage so that strides and offset keep their meaning.
  const auto& storage = t.impl()->storage;
  auto copy = Storage::allocate_cpu(storage->nbytes, "gradcheck");
  std::memcpy(copy->data, storage->data, storage->nbytes);
  auto impl = std::make_shared<TensorImpl>(*t.detach().impl());
  impl->storage = copy;
  return Tensor(impl);
}

// Position of the i-th element (row-major) of t, in elements from the storage start.
int64_t storage_index(const Tensor& t, int64_t linear) {
  int64_t off = t.offset();
  for (int64_t d = t.dim() - 1; d >= 0; --d) {
    off += (linear % t.size(d)) * t.stride(d);
    linear /= t.size(d);
  }
  return off;
}

std::string index_str(const Tensor& t, int64_t linear) {
  Shape idx(size_t(t.dim()));
  for (int64_t d = t.dim() - 1; d >= 0; --d) {
    idx[size_t(d)] = linear % t.size(d);
    linear /= t.size(d);
  }
  return shape_str(idx);
}

}  // namespace

GradcheckResult gradcheck(const DifferentiableFn& fn, const std::vector<Tensor>& inputs,
                          const GradcheckOptions& opt) {
  std::vector<Tensor> leaves;
  std::vector<bool> check(inputs.size(), false);
  for (size_t i = 0; i < inputs.size(); ++i) {
    const Tensor& in = inputs[i];
    if (!in.defined()) { leaves.push_back(in); continue; }
    check[i] = opt.check_input.empty() ? is_floating(in.dtype()) : bool(opt.check_input.at(i));
    if (check[i]) {
      DSVD_CHECK(in.dtype() == DType::Float64, "gradcheck: input ", i, " is ", dtype_name(in.dtype()),
                 "; finite differences need float64 inputs");
    }
    Tensor leaf = fresh_leaf_like(in);
    if (check[i]) leaf.requires_grad_();
    leaves.push_back(leaf);
  }

  Tensor out = fn(leaves);
  DSVD_CHECK(is_floating(out.dtype()), "gradcheck: the function's output is ", dtype_name(out.dtype()));
  Generator gen(opt.seed);
  Tensor weights = randn(out.sizes(), out.dtype(), &gen);
  auto objective = [&](const Tensor& y) { return sum(mul(y, weights)); };
  objective(out).backward();

  GradcheckResult result;
  double worst_excess = 0;
  for (size_t i = 0; i < leaves.size(); ++i) {
    if (!check[i]) continue;
    Tensor x = leaves[i];
    Tensor analytic = x.grad().defined() ? x.grad() : zeros_like(x);
    auto* raw = static_cast<double*>(x.impl()->storage->data);
    std::vector<double> a = to_vector(analytic);
    NoGradGuard no_grad;
    for (int64_t j = 0; j < x.numel(); ++j) {
      double* element = raw + storage_index(x, j);
      double original = *element;
      if (std::fabs(original) < opt.kink_radius) continue;
      *element = original + opt.eps;
      double plus = objective(fn(leaves)).item();
      *element = original - opt.eps;
      double minus = objective(fn(leaves)).item();
      *element = original;
      double numeric = (plus - minus) / (2 * opt.eps);
      double err = std::fabs(a[size_t(j)] - numeric);
      double allowed = opt.atol + opt.rtol * std::fabs(numeric);
      result.checked++;
      result.max_abs_error = std::max(result.max_abs_error, err);
      bool bad = !(err <= allowed);  // also catches NaN
      double excess = std::isfinite(err) ? err / allowed : INFINITY;
      if (bad && (result.ok || excess > worst_excess)) {
        worst_excess = excess;
        std::ostringstream msg;
        msg << "gradcheck failed: input " << i << " element " << index_str(x, j) << ": analytic "
            << a[size_t(j)] << " vs numeric " << numeric << " (|diff| " << err << " > allowed " << allowed
            << " = atol " << opt.atol << " + rtol " << opt.rtol << " * |numeric|)";
        result.message = msg.str();
        result.ok = false;
      }
    }
  }
  return result;
}

}  // namespace dsvd
