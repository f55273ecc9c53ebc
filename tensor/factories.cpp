// Tensor factories: constant fills, ranges, identity, and the random ones on top of Philox.
// Random element i of a draw uses Philox block i/4 (or i/2 for 64-bit values), so the result does
// not depend on how the loop is split between threads.
#include <cmath>
#include <cstring>
#include <map>
#include <mutex>
#include <tuple>

#include "tensor/parallel.h"
#include "tensor/random.h"
#include "tensor/tensor.h"
#include "tensor/device_backend.h"

namespace dsvd {

Tensor full(const Shape& sizes, double value, DType dtype, Device device) {
  Tensor out = empty(sizes, dtype, device);
  fill_(out, value);
  return out;
}

void fill_(const Tensor& out, double value) {
  DSVD_CHECK(out.defined(), "fill_: the tensor is undefined");
  if (out.numel() == 0) return;
  DSVD_CHECK(out.is_contiguous(), "fill_: expects a contiguous tensor, got strides ", shape_str(out.strides()));
  if (!out.device().is_cpu()) return device_backend(out.device(), "fill_").fill(out, value);
  const int64_t n = out.numel();
  DSVD_DISPATCH_STORAGE(out.dtype(), "fill_", [&] {
    auto* p = out.data<scalar_t>();
    const scalar_t v = value_cast<scalar_t>(value);
    parallel_for(0, n, n > kParallelGrain, [&](int64_t i) { p[i] = v; });
  });
}

Tensor zeros(const Shape& sizes, DType dtype, Device device) { return full(sizes, 0.0, dtype, device); }

Tensor full(const Shape& sizes, double value, DType dtype) { return full(sizes, value, dtype, Device::cpu()); }

Tensor zeros(const Shape& sizes, DType dtype) {
  Tensor out = empty(sizes, dtype);
  std::memset(out.data_ptr(), 0, size_t(out.numel()) * itemsize(dtype));
  return out;
}
Tensor ones(const Shape& sizes, DType dtype) { return full(sizes, 1.0, dtype); }
Tensor scalar_tensor(double value, DType dtype) { return full({}, value, dtype); }
Tensor zeros_like(const Tensor& t) { return zeros(t.sizes(), t.dtype(), t.device()); }
Tensor ones_like(const Tensor& t) { return full(t.sizes(), 1.0, t.dtype(), t.device()); }

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

Tensor eye(int64_t n, DType dtype, Device device) {
  if (device.is_cpu()) return eye(n, dtype);
  // One copy per (n, dtype, device), made on first use: the matrix functions ask for the same
  // identity every step, and a fresh host-to-device copy would stall the GPU's stream each time.
  static std::mutex mutex;
  static std::map<std::tuple<int64_t, int, int>, Tensor> cache;
  std::lock_guard<std::mutex> lock(mutex);
  Tensor& t = cache[{n, int(dtype), device.index}];
  if (!t.defined()) t = eye(n, dtype).to(device);
  return t;
}

// Element i of a draw depends only on (seed, draw, i); the loops below go block by block so each
// Philox block is computed once, and split blocks over threads (results do not depend on it).
Tensor rand(const Shape& sizes, DType dtype, Generator* gen) {
  // bfloat16/float16: float32's draws, rounded (the same values a float32 call gives, rounded).
  if (is_reduced_float(dtype)) return rand(sizes, DType::Float32, gen).to(dtype);
  Generator& g = gen ? *gen : default_generator();
  Tensor out = empty(sizes, dtype);
  const int64_t n = out.numel();
  const uint64_t seed = g.seed(), draw = g.next_draw();
  DSVD_DISPATCH_FLOATING(dtype, "rand", [&] {
    auto* p = out.data<scalar_t>();
    // float: 4 values per block (24-bit); double: 2 values per block (53-bit).
    constexpr int64_t per_block = std::is_same_v<scalar_t, float> ? 4 : 2;
    const int64_t blocks = (n + per_block - 1) / per_block;
    parallel_for(0, blocks, n > kParallelGrain, [&](int64_t b) {
      auto w = philox_block(seed, draw, uint64_t(b));
      for (int64_t k = 0; k < per_block && b * per_block + k < n; ++k) {
        if constexpr (std::is_same_v<scalar_t, float>) p[b * per_block + k] = uniform_float(w[size_t(k)]);
        else p[b * per_block + k] = uniform_double(w[size_t(2 * k)], w[size_t(2 * k + 1)]);
      }
    });
  });
  return out;
}

Tensor randn(const Shape& sizes, DType dtype, Generator* gen) {
  if (is_reduced_float(dtype)) return randn(sizes, DType::Float32, gen).to(dtype);
  Generator& g = gen ? *gen : default_generator();
  Tensor out = empty(sizes, dtype);
  const int64_t n = out.numel();
  const uint64_t seed = g.seed(), draw = g.next_draw();
  // Box-Muller on pairs of uniforms: a float block (4 words) gives two pairs -> 4 normals
  // (elements 4b..4b+3); a double block gives one 53-bit pair -> 2 normals (elements 2b, 2b+1).
  DSVD_DISPATCH_FLOATING(dtype, "randn", [&] {
    auto* p = out.data<scalar_t>();
    constexpr bool single = std::is_same_v<scalar_t, float>;
    constexpr int64_t per_block = single ? 4 : 2;
    const int64_t blocks = (n + per_block - 1) / per_block;
    parallel_for(0, blocks, n > kParallelGrain, [&](int64_t b) {
      auto w = philox_block(seed, draw, uint64_t(b));
      for (int64_t pair = 0; pair < per_block / 2; ++pair) {
        double u1, u2;
        if constexpr (single) {
          u1 = (double(w[size_t(2 * pair)]) + 1.0) * (1.0 / 4294967296.0);  // (0, 1]
          u2 = double(w[size_t(2 * pair + 1)]) * (1.0 / 4294967296.0);
        } else {
          u1 = 1.0 - uniform_double(w[0], w[1]);  // (0, 1]
          u2 = uniform_double(w[2], w[3]);
        }
        const double radius = std::sqrt(-2.0 * std::log(u1)), angle = 2.0 * M_PI * u2;
        const int64_t i = b * per_block + 2 * pair;
        if (i < n) p[i] = static_cast<scalar_t>(radius * std::cos(angle));
        if (i + 1 < n) p[i + 1] = static_cast<scalar_t>(radius * std::sin(angle));
      }
    });
  });
  return out;
}

Tensor randint(int64_t low, int64_t high, const Shape& sizes, DType dtype, Generator* gen) {
  DSVD_CHECK(high > low, "randint: empty range [", low, ", ", high, ")");
  Generator& g = gen ? *gen : default_generator();
  Tensor out = empty(sizes, dtype);
  const int64_t n = out.numel();
  const uint64_t seed = g.seed(), draw = g.next_draw();
  const unsigned __int128 range = (unsigned __int128)(uint64_t(high) - uint64_t(low));
  DSVD_DISPATCH_ALL(dtype, "randint", [&] {
    if constexpr (std::is_same_v<scalar_t, uint8_t>) {
      DSVD_CHECK(low >= 0 && high <= 256, "randint: range [", low, ", ", high, ") does not fit uint8");
    }
    auto* p = out.data<scalar_t>();
    const int64_t blocks = (n + 1) / 2;  // two 64-bit values per block
    parallel_for(0, blocks, n > kParallelGrain, [&](int64_t b) {
      auto w = philox_block(seed, draw, uint64_t(b));
      for (int64_t k = 0; k < 2 && 2 * b + k < n; ++k) {
        uint64_t bits = (uint64_t(w[size_t(2 * k)]) << 32) | w[size_t(2 * k + 1)];
        uint64_t r = uint64_t((bits * range) >> 64);  // multiply-shift: uniform in [0, range)
        p[2 * b + k] = static_cast<scalar_t>(low + int64_t(r));
      }
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
  if (!t.device().is_cpu()) return to_vector(t.detach().to(Device::cpu()));
  detail::count_host_value_read();
  std::vector<double> out;
  out.reserve(size_t(t.numel()));
  int64_t nd = t.dim();
  Shape index(size_t(nd), 0);
  DSVD_DISPATCH_STORAGE(t.dtype(), "to_vector", [&] {
    const auto* base = static_cast<const scalar_t*>(t.data_ptr());
    for (int64_t i = 0; i < t.numel(); ++i) {
      int64_t off = 0;
      for (int64_t d = 0; d < nd; ++d) off += index[d] * t.strides()[d];
      out.push_back(value_cast<double>(base[off]));
      for (int64_t d = nd - 1; d >= 0; --d) {
        if (++index[d] < t.sizes()[d]) break;
        index[d] = 0;
      }
    }
  });
  return out;
}

}  // namespace dsvd
