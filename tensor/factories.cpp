// Tensor factories: constant fills, ranges, identity, and the random ones on top of Philox.
// Random element i of a draw uses Philox block i/4 (or i/2 for 64-bit values), so the result does
// not depend on how the loop is split between threads.
#include <cmath>
#include <cstring>

#include "tensor/parallel.h"
#include "tensor/random.h"
#include "tensor/tensor.h"

namespace dsvd {


Tensor full(const Shape& sizes, double value, DType dtype) {
  Tensor out = empty(sizes, dtype);
  int64_t n = out.numel();
  DSVD_DISPATCH_ALL(dtype, "full", [&] {
    auto* p = out.data<scalar_t>();
    scalar_t v = static_cast<scalar_t>(value);
    parallel_for(0, n, n > kParallelGrain, [&](int64_t i) { p[i] = v; });
  });
  return out;
}

Tensor zeros(const Shape& sizes, DType dtype) {
  Tensor out = empty(sizes, dtype);
  std::memset(out.data_ptr(), 0, size_t(out.numel()) * itemsize(dtype));
  return out;
}
Tensor ones(const Shape& sizes, DType dtype) { return full(sizes, 1.0, dtype); }
Tensor scalar_tensor(double value, DType dtype) { return full({}, value, dtype); }
Tensor zeros_like(const Tensor& t) { return zeros(t.sizes(), t.dtype()); }
Tensor ones_like(const Tensor& t) { return ones(t.sizes(), t.dtype()); }

Tensor arange(double start, double end, double step, DType dtype) {
  DSVD_CHECK(step != 0 && std::isfinite(step) && std::isfinite(start) && std::isfinite(end),
             "arange: start, end and step must be finite and step non-zero (got ", start, ", ", end,
             ", ", step, ")");
  double count = std::ceil((end - start) / step);
  int64_t n = count > 0 ? int64_t(count) : 0;
  Tensor out = empty({n}, dtype);
  DSVD_DISPATCH_ALL(dtype, "arange", [&] {
    auto* p = out.data<scalar_t>();
    for (int64_t i = 0; i < n; ++i) p[i] = static_cast<scalar_t>(start + double(i) * step);
  });
  return out;
}

Tensor arange(int64_t end, DType dtype) { return arange(0.0, double(end), 1.0, dtype); }

Tensor eye(int64_t n, DType dtype) {
  DSVD_CHECK(n >= 0, "eye: size must be non-negative, got ", n);
  Tensor out = zeros({n, n}, dtype);
  DSVD_DISPATCH_ALL(dtype, "eye", [&] {
    auto* p = out.data<scalar_t>();
    for (int64_t i = 0; i < n; ++i) p[i * n + i] = 1;
  });
  return out;
}

Tensor rand(const Shape& sizes, DType dtype, Generator* gen) {
  Generator& g = gen ? *gen : default_generator();
  Tensor out = empty(sizes, dtype);
  int64_t n = out.numel();
  uint64_t seed = g.seed(), draw = g.next_draw();
  DSVD_DISPATCH_FLOATING(dtype, "rand", [&] {
    auto* p = out.data<scalar_t>();
    parallel_for(0, n, n > kParallelGrain, [&](int64_t i) {
      if constexpr (std::is_same_v<scalar_t, float>) {
        p[i] = uniform_float(philox_block(seed, draw, uint64_t(i) / 4)[i % 4]);
      } else {
        auto w = philox_block(seed, draw, uint64_t(i) / 2);
        p[i] = uniform_double(w[2 * (i % 2)], w[2 * (i % 2) + 1]);
      }
    });
  });
  return out;
}

Tensor randn(const Shape& sizes, DType dtype, Generator* gen) {
  Generator& g = gen ? *gen : default_generator();
  Tensor out = empty(sizes, dtype);
  int64_t n = out.numel();
  uint64_t seed = g.seed(), draw = g.next_draw();
  // Box-Muller: block b gives two pairs of 32-bit uniforms (53-bit pairs for float64); element i
  // takes the cosine or sine branch of its pair.
  DSVD_DISPATCH_FLOATING(dtype, "randn", [&] {
    auto* p = out.data<scalar_t>();
    parallel_for(0, n, n > kParallelGrain, [&](int64_t i) {
      double u1, u2;
      int64_t branch;
      if constexpr (std::is_same_v<scalar_t, float>) {
        auto w = philox_block(seed, draw, uint64_t(i) / 4);
        int64_t pair = (i % 4) / 2;
        u1 = (double(w[2 * pair]) + 1.0) * (1.0 / 4294967296.0);  // (0, 1]
        u2 = double(w[2 * pair + 1]) * (1.0 / 4294967296.0);
        branch = i % 2;
      } else {
        auto w = philox_block(seed, draw, uint64_t(i) / 2);
        u1 = 1.0 - uniform_double(w[0], w[1]);  // (0, 1]
        u2 = uniform_double(w[2], w[3]);
        branch = i % 2;
      }
      double radius = std::sqrt(-2.0 * std::log(u1));
      double angle = 2.0 * M_PI * u2;
      p[i] = static_cast<scalar_t>(branch ? radius * std::sin(angle) : radius * std::cos(angle));
    });
  });
  return out;
}

Tensor randint(int64_t low, int64_t high, const Shape& sizes, DType dtype, Generator* gen) {
  DSVD_CHECK(high > low, "randint: empty range [", low, ", ", high, ")");
  Generator& g = gen ? *gen : default_generator();
  Tensor out = empty(sizes, dtype);
  int64_t n = out.numel();
  uint64_t seed = g.seed(), draw = g.next_draw();
  unsigned __int128 range = (unsigned __int128)(uint64_t(high) - uint64_t(low));
  DSVD_DISPATCH_ALL(dtype, "randint", [&] {
    if constexpr (std::is_same_v<scalar_t, uint8_t>) {
      DSVD_CHECK(low >= 0 && high <= 256, "randint: range [", low, ", ", high, ") does not fit uint8");
    }
    auto* p = out.data<scalar_t>();
    parallel_for(0, n, n > kParallelGrain, [&](int64_t i) {
      auto w = philox_block(seed, draw, uint64_t(i) / 2);
      uint64_t bits = (uint64_t(w[2 * (i % 2)]) << 32) | w[2 * (i % 2) + 1];
      uint64_t r = uint64_t((bits * range) >> 64);  // multiply-shift: uniform in [0, range)
      p[i] = static_cast<scalar_t>(low + int64_t(r));
    });
  });
  return out;
}

Tensor from_vector(const std::vector<double>& values, const Shape& sizes, DType dtype) {
  int64_t n = checked_numel(sizes, "from_vector");
  DSVD_CHECK(int64_t(values.size()) == n, "from_vector: ", values.size(), " values for shape ",
             shape_str(sizes), " (", n, " elements)");
  Tensor out = empty(sizes, dtype);
  DSVD_DISPATCH_ALL(dtype, "from_vector", [&] {
    auto* p = out.data<scalar_t>();
    for (int64_t i = 0; i < n; ++i) p[i] = static_cast<scalar_t>(values[size_t(i)]);
  });
  return out;
}

std::vector<double> to_vector(const Tensor& t) {
  DSVD_CHECK(t.device().is_cpu(), "to_vector: tensor is on ", t.device().str());
  std::vector<double> out;
  out.reserve(size_t(t.numel()));
  int64_t nd = t.dim();
  Shape index(size_t(nd), 0);
  DSVD_DISPATCH_ALL(t.dtype(), "to_vector", [&] {
    const auto* base = static_cast<const scalar_t*>(t.data_ptr());
    for (int64_t i = 0; i < t.numel(); ++i) {
      int64_t off = 0;
      for (int64_t d = 0; d < nd; ++d) off += index[d] * t.strides()[d];
      out.push_back(double(base[off]));
      for (int64_t d = nd - 1; d >= 0; --d) {
        if (++index[d] < t.sizes()[d]) break;
        index[d] = 0;
      }
    }
  });
  return out;
}

}  // namespace dsvd
