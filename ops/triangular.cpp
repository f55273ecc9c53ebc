// Matrix-shaped ops: diag, diag_embed, triu, and the upper-triangle vectorisation used after
// covariance pooling (triu_vec) with its adjoint (triu_unvec).
//
// Backward:
//   diag (vector -> matrix):  the diagonal of g        diag (matrix -> vector): g on the diagonal
//   diag_embed:               the diagonal of g        triu(k): triu(g, k) (a mask product)
//   triu_vec:                 triu_unvec(g)            triu_unvec: triu_vec(g)
#include <map>
#include <mutex>
#include <tuple>

#include "ops/internal.h"
#include "ops/kernel_table.h"
#include "ops/kernels/elementwise.h"
#include "tensor/parallel.h"

namespace dsvd {
namespace {

using Grads = std::vector<Tensor>;

// The (batched) diagonal `offset` of the last two dims of t, as an untracked view.
Tensor diagonal_view(const Tensor& t, int64_t offset) {
  int64_t rows = t.size(-2), cols = t.size(-1);
  int64_t len = offset >= 0 ? std::max<int64_t>(0, std::min(rows, cols - offset))
                            : std::max<int64_t>(0, std::min(rows + offset, cols));
  Shape sizes(t.sizes().begin(), t.sizes().end() - 2), strides(t.strides().begin(), t.strides().end() - 2);
  sizes.push_back(len);
  strides.push_back(t.stride(-2) + t.stride(-1));
  int64_t start = t.offset() + (len == 0 ? 0 : offset >= 0 ? offset * t.stride(-1) : -offset * t.stride(-2));
  return make_view(t, sizes, strides, start);
}

// Zeros of `shape` with `values` written on diagonal `offset` of the last two dims.
Tensor embed_on_diagonal(const Tensor& values, const Shape& shape, int64_t offset) {
  Tensor out = zeros(shape, values.dtype(), values.device());
  detail::copy_raw(diagonal_view(out, offset), values);
  return out;
}

// Row-major positions i*n + j of the upper triangle i <= j of an n x n matrix.
std::vector<int64_t> upper_triangle_positions(int64_t n) {
  std::vector<int64_t> pos;
  pos.reserve(size_t(n * (n + 1) / 2));
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = i; j < n; ++j) pos.push_back(i * n + j);
  return pos;
}

// The positions as an int64 tensor on `device`, made once per (n, device).
Tensor upper_triangle_positions_on(int64_t n, Device device) {
  static std::mutex mutex;
  static std::map<std::tuple<int64_t, int, int>, Tensor> cache;
  std::lock_guard<std::mutex> lock(mutex);
  Tensor& t = cache[{n, int(device.kind), device.index}];
  if (!t.defined()) {
    auto pos = upper_triangle_positions(n);
    Tensor host = empty({int64_t(pos.size())}, DType::Int64);
    std::copy(pos.begin(), pos.end(), host.data<int64_t>());
    t = empty(host.sizes(), DType::Int64, device);
    detail::copy_raw(t, host);
  }
  return t;
}

}  // namespace

Tensor diag(const Tensor& x, int64_t offset) {
  DSVD_CHECK(x.dim() == 1 || x.dim() == 2, "diag: expects a 1-D or 2-D tensor, got shape ", shape_str(x.sizes()));
  if (x.dim() == 1) {
    int64_t n = x.size(0) + (offset >= 0 ? offset : -offset);
    Tensor out = embed_on_diagonal(detail::contiguous_raw(x), {n, n}, offset);
    return record_op("diag", {out}, {x}, {}, [offset](const Grads& g, FunctionNode&) {
      return Grads{diagonal_view(g[0], offset)};
    })[0];
  }
  Tensor out = diagonal_view(x, offset);
  Shape shape = x.sizes();
  return record_op("diag", {out}, {x}, {}, [offset, shape](const Grads& g, FunctionNode&) {
    return Grads{embed_on_diagonal(g[0], shape, offset)};
  })[0];
}

Tensor diag_embed(const Tensor& x) {
  DSVD_CHECK(x.dim() >= 1, "diag_embed: expects at least 1 dimension, got a 0-d tensor");
  Shape shape = x.sizes();
  shape.push_back(x.size(-1));
  Tensor out = embed_on_diagonal(x, shape, 0);
  return record_op("diag_embed", {out}, {x}, {}, [](const Grads& g, FunctionNode&) {
    return Grads{diagonal_view(g[0], 0)};
  })[0];
}

Tensor triu(const Tensor& x, int64_t k) {
  DSVD_CHECK(x.dim() >= 2, "triu: expects at least 2 dimensions, got shape ", shape_str(x.sizes()));
  int64_t rows = x.size(-2), cols = x.size(-1);
  Tensor mask = zeros({rows, cols}, x.dtype());
  DSVD_DISPATCH_ALL(x.dtype(), "triu", [&] {
    auto* m = mask.data<scalar_t>();
    for (int64_t i = 0; i < rows; ++i)
      for (int64_t j = std::max<int64_t>(0, i + k); j < cols; ++j) m[i * cols + j] = 1;
  });
  return mul(x, mask.to(x.device()));  // its backward, triu(g, k), comes from mul's
}

Tensor triu_vec(const Tensor& x) {
  DSVD_CHECK(x.dim() >= 2 && x.size(-1) == x.size(-2), "triu_vec: expects square matrices (..., n, n), got shape ",
             shape_str(x.sizes()));
  const int64_t n = x.size(-1), length = n * (n + 1) / 2;
  const int64_t batch = x.numel() / std::max<int64_t>(1, n * n);
  Shape out_shape(x.sizes().begin(), x.sizes().end() - 2);
  out_shape.push_back(length);
  Tensor in = detail::contiguous_raw(x);
  Tensor out = empty(out_shape, x.dtype(), x.device());
  kernels::dispatch<kernels::GatherColumnsKernel>(x.device())(out.view({batch, length}), in.view({batch, n * n}),
                                                             upper_triangle_positions_on(n, x.device()));
  return record_op("triu_vec", {out}, {x}, {}, [n](const Grads& g, FunctionNode&) {
    return Grads{triu_unvec(g[0], n)};
  })[0];
}

Tensor triu_unvec(const Tensor& v, int64_t n) {
  const int64_t length = n * (n + 1) / 2;
  DSVD_CHECK(v.dim() >= 1 && v.size(-1) == length, "triu_unvec: expects a last dimension of n(n+1)/2 = ", length,
             " for n = ", n, ", got shape ", shape_str(v.sizes()));
  const int64_t batch = v.numel() / std::max<int64_t>(1, length);
  Shape out_shape(v.sizes().begin(), v.sizes().end() - 1);
  out_shape.push_back(n);
  out_shape.push_back(n);
  Tensor in = detail::contiguous_raw(v);
  Tensor out = empty(out_shape, v.dtype(), v.device());
  kernels::dispatch<kernels::ScatterColumnsKernel>(v.device())(out.view({batch, n * n}), in.view({batch, length}),
                                                              upper_triangle_positions_on(n, v.device()));
  return record_op("triu_unvec", {out}, {v}, {}, [](const Grads& g, FunctionNode&) {
    return Grads{triu_vec(g[0])};
  })[0];
}

}  // namespace dsvd
