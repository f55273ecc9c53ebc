// Reductions: sum, mean, var over any set of dims, and max/argmax along one dim.
//
// The reduced dims are permuted to the end and made contiguous, giving (outer, inner) rows for
// the kernels of ops/kernels/reduce.h. Backward (g reshaped to the keepdim shape and
// broadcast back over the reduced dims):
//   sum:  g
//   mean: g / N
//   var:  g * 2 (x - mean) / (N - correction)
//   max:  g at the position of the (first) maximum, 0 elsewhere
#include <algorithm>

#include "ops/autocast.h"
#include "ops/internal.h"
#include "ops/kernel_table.h"
#include "ops/kernels/float32_compute.h"
#include "ops/kernels/reduce.h"

namespace dsvd {
namespace {

struct RowPlan {
  Tensor rows;           // contiguous, kept dims first then reduced dims
  int64_t outer = 1, inner = 1;
  Shape keepdim_shape;   // x's shape with reduced dims set to 1
  Shape out_shape;       // the result's shape (keepdim or not)
  Shape permutation;     // kept dims, then reduced dims
};

RowPlan plan_rows(const Tensor& x, const Shape& dims, bool keepdim, const char* op) {
  DSVD_CHECK(x.defined(), op, ": input is an undefined tensor");
  int64_t nd = x.dim();
  std::vector<bool> reduced(size_t(nd), dims.empty());
  for (int64_t d : dims) {
    int64_t w = wrap_dim(d, nd, op);
    DSVD_CHECK(!reduced[size_t(w)], op, ": dimension ", d, " appears twice in ", shape_str(dims));
    reduced[size_t(w)] = true;
  }
  RowPlan p;
  Shape kept, gone;
  for (int64_t d = 0; d < nd; ++d) {
    (reduced[size_t(d)] ? gone : kept).push_back(d);
    p.keepdim_shape.push_back(reduced[size_t(d)] ? 1 : x.size(d));
    if (reduced[size_t(d)]) p.inner *= x.size(d);
    else p.outer *= x.size(d);
    if (!reduced[size_t(d)] || keepdim) p.out_shape.push_back(reduced[size_t(d)] ? 1 : x.size(d));
  }
  p.permutation = kept;
  p.permutation.insert(p.permutation.end(), gone.begin(), gone.end());
  Shape sizes, strides;
  for (int64_t d : p.permutation) {
    sizes.push_back(x.size(d));
    strides.push_back(x.stride(d));
  }
  p.rows = detail::contiguous_raw(make_view(x, sizes, strides, x.offset()));
  return p;
}

using Grads = std::vector<Tensor>;

}  // namespace

Tensor sum(const Tensor& x_in, const Shape& dims, bool keepdim) {
  const Tensor x = autocast::input("sum", x_in);

  RowPlan p = plan_rows(x, dims, keepdim, "sum");
  DType out_dtype = is_floating(x.dtype()) ? x.dtype() : DType::Int64;
  Tensor out = empty(p.out_shape, out_dtype, x.device());
  kernels::call<kernels::SumRowsKernel>(x.device(), p.rows, p.outer, p.inner, out);
  Shape input_shape = x.sizes(), keep = p.keepdim_shape;
  return record_op("sum", {out}, {x}, {}, [input_shape, keep](const Grads& g, FunctionNode&) {
    return Grads{g[0].reshape(keep).expand(input_shape)};
  })[0];
}

Tensor sum(const Tensor& x) { return sum(x, {}, false); }

Tensor mean(const Tensor& x_in, const Shape& dims, bool keepdim) {
  const Tensor x = autocast::input("mean", x_in);

  DSVD_CHECK(is_floating(x.dtype()), "mean: expected a float32 or float64 tensor, got ", dtype_name(x.dtype()),
             "; convert with .to(DType::Float32) first");
  RowPlan p = plan_rows(x, dims, keepdim, "mean");
  return div(sum(x, dims, keepdim), double(p.inner));
}

Tensor mean(const Tensor& x) { return mean(x, {}, false); }

Tensor var(const Tensor& x_in, const Shape& dims, int64_t correction, bool keepdim) {
  const Tensor x = autocast::input("var", x_in);

  DSVD_CHECK(is_floating(x.dtype()), "var: expected a float32 or float64 tensor, got ", dtype_name(x.dtype()));
  DSVD_CHECK(correction >= 0, "var: correction must be non-negative, got ", correction);
  RowPlan p = plan_rows(x, dims, keepdim, "var");
  Tensor out = empty(p.out_shape, x.dtype(), x.device());
  kernels::call<kernels::VarRowsKernel>(x.device(), p.rows, p.outer, p.inner, correction, out);
  Shape keep = p.keepdim_shape, reduce_dims = dims;
  int64_t n = p.inner;
  return record_op("var", {out}, {x}, {{"self", x}}, [=](const Grads& g, FunctionNode& node) {
    const Tensor& s = node.saved_tensor(0);
    Tensor centred = sub(s, mean(s, reduce_dims, true));
    Tensor scale = div(g[0].reshape(keep), double(n - correction) / 2.0);
    return Grads{mul(centred, scale)};
  })[0];
}

Tensor var(const Tensor& x, int64_t correction) { return var(x, {}, correction, false); }

MaxResult max(const Tensor& x, int64_t dim, bool keepdim) {
  DSVD_CHECK(x.dim() > 0, "max: a 0-d tensor has no dimension ", dim, "; use max(x)");
  int64_t d = wrap_dim(dim, x.dim(), "max");
  DSVD_CHECK(x.size(d) > 0, "max: dimension ", d, " of shape ", shape_str(x.sizes()), " is empty");
  RowPlan p = plan_rows(x, {d}, keepdim, "max");
  Tensor values = empty(p.out_shape, x.dtype(), x.device());
  Tensor indices = empty(p.out_shape, DType::Int64, x.device());
  kernels::call<kernels::MaxRowsKernel>(x.device(), p.rows, p.outer, p.inner, values, indices);
  Shape permuted_sizes;
  for (int64_t k : p.permutation) permuted_sizes.push_back(x.size(k));
  Shape inverse(p.permutation.size());
  for (size_t i = 0; i < p.permutation.size(); ++i) inverse[size_t(p.permutation[i])] = int64_t(i);
  int64_t outer = p.outer, inner = p.inner;
  auto out = record_op("max", {values, indices}, {x}, {{"indices", indices}},
                       [=](const Grads& g, FunctionNode& node) {
                         Tensor grad_rows = zeros({outer, inner}, g[0].dtype(), g[0].device());
                         kernels::call<kernels::ScatterRowsKernel>(
                             g[0].device(), detail::contiguous_raw(g[0]), node.saved_tensor(0), outer, inner, grad_rows);
                         return Grads{grad_rows.view(permuted_sizes).permute(inverse).contiguous()};
                       });
  return {out[0], out[1]};
}

Tensor max(const Tensor& x) {
  DSVD_CHECK(x.numel() > 0, "max: the tensor is empty");
  return max(x.reshape({-1}), 0).values.reshape({});
}

Tensor argmax(const Tensor& x, int64_t dim, bool keepdim) { return max(x, dim, keepdim).indices; }

}  // namespace dsvd
