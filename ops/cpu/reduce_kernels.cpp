#include "ops/cpu/reduce_kernels.h"

#include <cmath>
#include <vector>

#include <omp.h>

#include "ops/cpu/loops.h"
#include "tensor/parallel.h"

namespace dsvd::cpu {
namespace {

template <typename T> struct Acc { using type = double; };
template <> struct Acc<int64_t> { using type = int64_t; };
template <> struct Acc<uint8_t> { using type = int64_t; };

// Sum of n values of f(p[i]) in a fixed order (8 interleaved partial sums, then combined).
template <typename acc_t, typename T, typename F>
acc_t block_sum(const T* p, int64_t n, F f) {
  acc_t lanes[8] = {};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int k = 0; k < 8; ++k) lanes[k] += f(p[i + k]);
  for (; i < n; ++i) lanes[0] += f(p[i]);
  return ((lanes[0] + lanes[1]) + (lanes[2] + lanes[3])) + ((lanes[4] + lanes[5]) + (lanes[6] + lanes[7]));
}

// Sum of each row, split into kReduceBlock blocks; parallel over (row, block) pairs.
template <typename acc_t, typename T, typename F>
std::vector<acc_t> row_sums(const T* data, int64_t outer, int64_t inner, F f) {
  int64_t blocks = std::max<int64_t>(1, (inner + kReduceBlock - 1) / kReduceBlock);
  std::vector<acc_t> partial(size_t(outer * blocks));
  int64_t total = outer * inner;
#pragma omp parallel for schedule(static) if (total > kParallelGrain && !omp_in_parallel())
  for (int64_t t = 0; t < outer * blocks; ++t) {
    int64_t row = t / blocks, b = t % blocks;
    int64_t begin = b * kReduceBlock, len = std::min(kReduceBlock, inner - begin);
    partial[size_t(t)] = len > 0 ? block_sum<acc_t>(data + row * inner + begin, len, f) : acc_t(0);
  }
  std::vector<acc_t> sums(static_cast<size_t>(outer));
  for (int64_t row = 0; row < outer; ++row) {
    acc_t s = 0;
    for (int64_t b = 0; b < blocks; ++b) s += partial[size_t(row * blocks + b)];
    sums[size_t(row)] = s;
  }
  return sums;
}

}  // namespace

void sum_rows(const Tensor& rows, int64_t outer, int64_t inner, const Tensor& out) {
  DSVD_DISPATCH_ALL(rows.dtype(), "sum", [&] {
    using acc_t = typename Acc<scalar_t>::type;
    auto sums = row_sums<acc_t>(static_cast<const scalar_t*>(rows.data_ptr()), outer, inner,
                                [](scalar_t v) { return acc_t(v); });
    DSVD_DISPATCH_ALL(out.dtype(), "sum", [&] {
      auto* o = static_cast<scalar_t*>(out.data_ptr());
      for (int64_t i = 0; i < outer; ++i) o[i] = static_cast<scalar_t>(sums[size_t(i)]);
    });
  });
}

void var_rows(const Tensor& rows, int64_t outer, int64_t inner, int64_t correction, const Tensor& out) {
  DSVD_DISPATCH_FLOATING(rows.dtype(), "var", [&] {
    const auto* data = static_cast<const scalar_t*>(rows.data_ptr());
    auto sums = row_sums<double>(data, outer, inner, [](scalar_t v) { return double(v); });
    auto* o = static_cast<scalar_t*>(out.data_ptr());
    // Two passes (mean, then squared deviations): stable where the one-pass formula cancels.
    for (int64_t row = 0; row < outer; ++row) {
      double mean = sums[size_t(row)] / double(inner);
      auto sq = row_sums<double>(data + row * inner, 1, inner, [mean](scalar_t v) {
        double d = double(v) - mean;
        return d * d;
      });
      double denom = double(inner - correction);
      o[row] = static_cast<scalar_t>(denom > 0 ? sq[0] / denom : NAN);
    }
  });
}

void max_rows(const Tensor& rows, int64_t outer, int64_t inner, const Tensor& values, const Tensor& indices) {
  DSVD_DISPATCH_ALL(rows.dtype(), "max", [&] {
    const auto* data = static_cast<const scalar_t*>(rows.data_ptr());
    auto* v = static_cast<scalar_t*>(values.data_ptr());
    auto* idx = indices.data<int64_t>();
    parallel_for(0, outer, outer * inner > kParallelGrain, [&](int64_t row) {
      const scalar_t* p = data + row * inner;
      int64_t best = 0;
      for (int64_t i = 1; i < inner; ++i) {
        if (p[best] != p[best]) break;  // NaN found: it is the maximum
        if (p[i] > p[best] || p[i] != p[i]) best = i;
      }
      v[row] = p[best];
      idx[row] = best;
    });
  });
}

void scatter_rows(const Tensor& g, const Tensor& indices, int64_t outer, int64_t inner, const Tensor& out) {
  DSVD_DISPATCH_FLOATING(g.dtype(), "max_backward", [&] {
    const auto* gp = static_cast<const scalar_t*>(g.data_ptr());
    const auto* idx = indices.data<int64_t>();
    auto* o = static_cast<scalar_t*>(out.data_ptr());
    for (int64_t row = 0; row < outer; ++row) o[row * inner + idx[row]] += gp[row];
  });
}

}  // namespace dsvd::cpu

#include "ops/kernel_table.h"
#include "ops/kernels/reduce.h"

namespace dsvd::cpu {
DSVD_REGISTER_KERNEL(kernels::SumRowsKernel, CPU, sum_rows);
DSVD_REGISTER_KERNEL(kernels::VarRowsKernel, CPU, var_rows);
DSVD_REGISTER_KERNEL(kernels::MaxRowsKernel, CPU, max_rows);
DSVD_REGISTER_KERNEL(kernels::ScatterRowsKernel, CPU, scatter_rows);
}  // namespace dsvd::cpu
