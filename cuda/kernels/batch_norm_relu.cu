// The GPU's own kernels of batch norm fused with the residual add and the ReLU after it (training
// mode; cuda/batch_norm_relu.cpp chooses them under DSVD_CUDA_FUSED_BN=1, else composes cuDNN's):
// per-channel sums in float64 over a fixed partition of the rows (the same result on every run),
// then one element-wise pass each way that reads x (and r, or y and dy) once. NCHW and
// channels-last; float32, float64 and the 16-bit floats natively (statistics and parameters
// float32 for those, as cuDNN keeps them). The formulas are in the header of ops/batch_norm.cpp;
// the roundings follow the CPU's fused kernel (ops/cpu/batch_norm_kernels.cpp).
#include <algorithm>
#include <type_traits>

#include "cuda/context.h"
#include "cuda/internal.h"
#include "cuda/kernels/block_reduce.cuh"
#include "ops/math/elementwise.h"
#include "tensor/reduced_float.h"

namespace dsvd::cuda {
namespace {

#define FOR_EACH(i, n) for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < (n); i += int64_t(gridDim.x) * blockDim.x)

// Where element (row, channel) lies, row = n·H·W + (y·W + x): NCHW or channels-last.
struct Site {
  int64_t channels, plane, rows;
  bool channels_last;
  __host__ __device__ int64_t offset(int64_t row, int64_t c) const {
    return channels_last ? row * channels + c : ((row / plane) * channels + c) * plane + row % plane;
  }
  __host__ __device__ int64_t channel_of(int64_t i) const {
    return channels_last ? i % channels : (i / plane) % channels;
  }
};

Site site_of(const Tensor& x) {
  const int64_t plane = x.dim() == 4 ? x.size(2) * x.size(3) : 1;
  return {x.size(1), plane, x.size(0) * plane, memory_format_of(x) == MemoryFormat::ChannelsLast};
}

// The row partition of the per-channel sums: `splits` parts per channel, enough blocks to fill
// the GPU, fixed by the shape alone.
constexpr int kRowsPerBlockChannelsLast = 8;  // channels-last blocks: 32 channels x 8 rows
int splits_for(const Site& s) {
  const int64_t channel_blocks = s.channels_last ? (s.channels + 31) / 32 : s.channels;
  const int64_t rows_per_split = s.channels_last ? kRowsPerBlockChannelsLast : kThreads;
  int64_t splits = (1024 + channel_blocks - 1) / channel_blocks;
  splits = std::min<int64_t>(splits, (s.rows + rows_per_split - 1) / rows_per_split);
  return int(std::max<int64_t>(1, std::min<int64_t>(splits, 256)));
}

// partials[(c·splits + k)·2 + {0, 1}] = Σ over split k of channel c's rows of terms(offset, c).
// NCHW: block (c, k) of kThreads threads on consecutive rows (consecutive addresses in a plane).
template <typename Terms>
__global__ void channel_sums_nchw(Site s, int splits, Terms terms, double* partials) {
  const int64_t c = blockIdx.x;
  const int k = blockIdx.y;
  double a = 0, b = 0;
  for (int64_t r = int64_t(k) * blockDim.x + threadIdx.x; r < s.rows; r += int64_t(blockDim.x) * splits) {
    double t0, t1;
    terms(s.offset(r, c), c, t0, t1);
    a += t0;
    b += t1;
  }
  a = block_sum(a);
  b = block_sum(b);
  if (threadIdx.x == 0) {
    partials[(c * splits + k) * 2] = a;
    partials[(c * splits + k) * 2 + 1] = b;
  }
}

// Channels-last: block (channel group, k) of 32 x 8 threads; a warp reads 32 neighbouring
// channels of one row (consecutive addresses).
template <typename Terms>
__global__ void channel_sums_channels_last(Site s, int splits, Terms terms, double* partials) {
  const int64_t c = int64_t(blockIdx.x) * 32 + threadIdx.x;
  const int k = blockIdx.y;
  double a = 0, b = 0;
  if (c < s.channels) {
    for (int64_t r = int64_t(k) * kRowsPerBlockChannelsLast + threadIdx.y; r < s.rows;
         r += int64_t(kRowsPerBlockChannelsLast) * splits) {
      double t0, t1;
      terms(r * s.channels + c, c, t0, t1);
      a += t0;
      b += t1;
    }
  }
  __shared__ double sa[kRowsPerBlockChannelsLast][32], sb[kRowsPerBlockChannelsLast][32];
  sa[threadIdx.y][threadIdx.x] = a;
  sb[threadIdx.y][threadIdx.x] = b;
  __syncthreads();
  if (threadIdx.y == 0 && c < s.channels) {
    double ta = 0, tb = 0;
    for (int j = 0; j < kRowsPerBlockChannelsLast; ++j) {
      ta += sa[j][threadIdx.x];
      tb += sb[j][threadIdx.x];
    }
    partials[(c * splits + k) * 2] = ta;
    partials[(c * splits + k) * 2 + 1] = tb;
  }
}

template <typename Terms>
void channel_sums(const Site& s, int splits, Terms terms, double* partials, cudaStream_t stream) {
  if (s.channels_last) {
    const dim3 grid(unsigned((s.channels + 31) / 32), unsigned(splits)), block(32, kRowsPerBlockChannelsLast);
    channel_sums_channels_last<<<grid, block, 0, stream>>>(s, splits, terms, partials);
  } else {
    const dim3 grid(unsigned(s.channels), unsigned(splits));
    channel_sums_nchw<<<grid, kThreads, 0, stream>>>(s, splits, terms, partials);
  }
}

// Channel c's two sums, the splits added in order.
__device__ void total(const double* partials, int64_t c, int splits, double& a, double& b) {
  a = 0;
  b = 0;
  for (int k = 0; k < splits; ++k) {
    a += partials[(c * splits + k) * 2];
    b += partials[(c * splits + k) * 2 + 1];
  }
}

template <typename T>
struct ForwardTerms {  // x and x², for the mean and the biased variance
  const T* x;
  __device__ void operator()(int64_t o, int64_t, double& t0, double& t1) const {
    const double v = double(value_cast<float>(x[o]));
    t0 = v;
    t1 = v * v;
  }
};
template <>
struct ForwardTerms<double> {
  const double* x;
  __device__ void operator()(int64_t o, int64_t, double& t0, double& t1) const {
    t0 = x[o];
    t1 = x[o] * x[o];
  }
};

// Per channel: the statistics saved for the backward, the running statistics, and y's affine
// coefficients (scale, shift) for the element-wise pass.
template <typename P>
__global__ void finish_forward(int64_t channels, int splits, const double* partials, double count, double eps,
                               double momentum, const P* gamma, const P* beta, P* save_mean, P* save_invstd, P* run_mean,
                               P* run_var, double* scale, double* shift) {
  FOR_EACH(c, channels) {
    double sum, squares;
    total(partials, c, splits, sum, squares);
    const double mu = sum / count;
    const double var = fmax(squares / count - mu * mu, 0.0);
    const double invstd = 1.0 / sqrt(var + eps);
    save_mean[c] = P(mu);
    save_invstd[c] = P(invstd);
    if (run_mean) run_mean[c] = P((1 - momentum) * double(run_mean[c]) + momentum * mu);
    if (run_var) run_var[c] = P((1 - momentum) * double(run_var[c]) + momentum * var * count / (count - 1));
    const double g = gamma ? double(gamma[c]) : 1.0;
    scale[c] = invstd * g;
    shift[c] = (beta ? double(beta[c]) : 0.0) - mu * invstd * g;
  }
}

// y = max(0, T(T(x·scale + shift) + r)) in T's compute type (the CPU kernel's roundings).
template <typename T>
__global__ void apply_forward(Site s, int64_t n, const T* x, const T* r, const double* scale, const double* shift, T* y) {
  using C = compute_type_t<T>;
  FOR_EACH(i, n) {
    const int64_t c = s.channel_of(i);
    T v = value_cast<T>(value_cast<C>(x[i]) * C(scale[c]) + C(shift[c]));
    if (r) v = value_cast<T>(value_cast<C>(v) + value_cast<C>(r[i]));
    y[i] = value_cast<T>(math::unary<math::UnaryOp::Relu, C>(value_cast<C>(v), 0, 0));
  }
}

template <typename T, typename P>
struct BackwardTerms {  // g and g·(x − μ), g = ReLU's mask applied to dy
  const T* x;
  const T* y;
  const T* dy;
  const P* mean;
  __device__ void operator()(int64_t o, int64_t c, double& t0, double& t1) const {
    using C = compute_type_t<T>;
    const double g = double(math::relu_backward(value_cast<C>(y[o]), value_cast<C>(dy[o])));
    t0 = g;
    t1 = g * (double(value_cast<C>(x[o])) - double(mean[c]));
  }
};

// Per channel: dγ, dβ, and dx's coefficients (γ·s, mean(g), mean(g·x̂)).
template <typename P>
__global__ void finish_backward(int64_t channels, int splits, const double* partials, double count, const P* gamma,
                                const P* invstd, P* grad_gamma, P* grad_beta, double* gs, double* mean_g,
                                double* mean_g_xhat) {
  FOR_EACH(c, channels) {
    double sum_g, sum_g_centred;
    total(partials, c, splits, sum_g, sum_g_centred);
    const double s = double(invstd[c]), sum_g_xhat = sum_g_centred * s;
    if (grad_gamma) grad_gamma[c] = P(sum_g_xhat);
    if (grad_beta) grad_beta[c] = P(sum_g);
    gs[c] = (gamma ? double(gamma[c]) : 1.0) * s;
    mean_g[c] = sum_g / count;
    mean_g_xhat[c] = sum_g_xhat / count;
  }
}

template <typename T, typename P>
__global__ void apply_backward(Site s, int64_t n, const T* x, const T* y, const T* dy, const P* mean, const P* invstd,
                               const double* gs, const double* mean_g, const double* mean_g_xhat, T* dx, T* dr) {
  using C = compute_type_t<T>;
  FOR_EACH(i, n) {
    const int64_t c = s.channel_of(i);
    const C g = math::relu_backward(value_cast<C>(y[i]), value_cast<C>(dy[i]));
    if (dr) dr[i] = value_cast<T>(g);
    if (dx) {
      const double centred = double(value_cast<C>(x[i])) - double(mean[c]);
      dx[i] = value_cast<T>(gs[c] * (double(g) - mean_g[c] - centred * double(invstd[c]) * mean_g_xhat[c]));
    }
  }
}

template <typename P>
const P* ptr(const Tensor& t) {
  return t.defined() ? static_cast<const P*>(t.data_ptr()) : nullptr;
}
template <typename P>
P* mut(const Tensor& t) {
  return t.defined() ? static_cast<P*>(t.data_ptr()) : nullptr;
}

// The dtype of the parameters and statistics for x: float32 for the 16-bit floats (cuDNN's rule,
// which the other batch-norm kernels of the GPU follow), x's otherwise.
DType statistics_dtype(const Tensor& x) { return is_reduced_float(x.dtype()) ? DType::Float32 : x.dtype(); }

}  // namespace

void fused_batch_norm_relu_forward(const Tensor& x, const Tensor& residual, const Tensor& gamma, const Tensor& beta,
                 const Tensor& running_mean, const Tensor& running_var, double momentum, double eps, const Tensor& y,
                 Tensor& save_mean, Tensor& save_invstd) {
  const DType stats = statistics_dtype(x);
  for (const Tensor* t : {&gamma, &beta, &running_mean, &running_var})
    DSVD_CHECK(!t->defined() || t->dtype() == stats, "batch_norm_relu (CUDA): parameters and running statistics of a ",
               dtype_name(x.dtype()), " input must be ", dtype_name(stats), ", got ", dtype_name(t->dtype()));
  const Site s = site_of(x);
  const int splits = splits_for(s);
  const Device d = x.device();
  save_mean = empty({s.channels}, stats, d);
  save_invstd = empty({s.channels}, stats, d);
  Tensor partials = empty({s.channels * splits * 2}, DType::Float64, d);
  Tensor coefficients = empty({2, s.channels}, DType::Float64, d);  // scale, shift
  double* scale = static_cast<double*>(coefficients.data_ptr());
  double* shift = scale + s.channels;
  const double count = double(s.rows);
  cudaStream_t stream = stream_of(x);
  DSVD_DISPATCH_FLOATING_AND_REDUCED(x.dtype(), "batch_norm_relu", [&] {
    using T = scalar_t;
    using P = std::conditional_t<std::is_same_v<T, double>, double, float>;
    channel_sums(s, splits, ForwardTerms<T>{ptr<T>(x)}, static_cast<double*>(partials.data_ptr()), stream);
    finish_forward<P><<<blocks_for(s.channels), kThreads, 0, stream>>>(
        s.channels, splits, static_cast<const double*>(partials.data_ptr()), count, eps, momentum, ptr<P>(gamma),
        ptr<P>(beta), mut<P>(save_mean), mut<P>(save_invstd), mut<P>(running_mean), mut<P>(running_var), scale, shift);
    const int64_t n = x.numel();
    apply_forward<T><<<blocks_for(n), kThreads, 0, stream>>>(s, n, ptr<T>(x), ptr<T>(residual), scale, shift, mut<T>(y));
  });
  DSVD_CUDA_CHECK("batch_norm_relu", cudaGetLastError());
}

void fused_batch_norm_relu_backward(const Tensor& x, const Tensor& y, const Tensor& grad_y, const Tensor& gamma, const Tensor& save_mean,
                  const Tensor& save_invstd, const Tensor& grad_x, const Tensor& grad_gamma, const Tensor& grad_beta,
                  const Tensor& grad_residual) {
  const Site s = site_of(x);
  const int splits = splits_for(s);
  const Device d = x.device();
  Tensor partials = empty({s.channels * splits * 2}, DType::Float64, d);
  Tensor coefficients = empty({3, s.channels}, DType::Float64, d);  // γ·s, mean(g), mean(g·x̂)
  double* gs = static_cast<double*>(coefficients.data_ptr());
  double* mean_g = gs + s.channels;
  double* mean_g_xhat = mean_g + s.channels;
  cudaStream_t stream = stream_of(x);
  DSVD_DISPATCH_FLOATING_AND_REDUCED(x.dtype(), "batch_norm_relu_backward", [&] {
    using T = scalar_t;
    using P = std::conditional_t<std::is_same_v<T, double>, double, float>;
    channel_sums(s, splits, BackwardTerms<T, P>{ptr<T>(x), ptr<T>(y), ptr<T>(grad_y), ptr<P>(save_mean)},
                 static_cast<double*>(partials.data_ptr()), stream);
    finish_backward<P><<<blocks_for(s.channels), kThreads, 0, stream>>>(
        s.channels, splits, static_cast<const double*>(partials.data_ptr()), double(s.rows), ptr<P>(gamma),
        ptr<P>(save_invstd), mut<P>(grad_gamma), mut<P>(grad_beta), gs, mean_g, mean_g_xhat);
    const int64_t n = x.numel();
    if (grad_x.defined() || grad_residual.defined())
      apply_backward<T, P><<<blocks_for(n), kThreads, 0, stream>>>(s, n, ptr<T>(x), ptr<T>(y), ptr<T>(grad_y),
                                                                   ptr<P>(save_mean), ptr<P>(save_invstd), gs, mean_g,
                                                                   mean_g_xhat, mut<T>(grad_x), mut<T>(grad_residual));
  });
  DSVD_CUDA_CHECK("batch_norm_relu_backward", cudaGetLastError());
}

}  // namespace dsvd::cuda
