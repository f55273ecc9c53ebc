// Memory formats (tensor/memory_format.h): channels-last tensors, the element-wise ops that keep
// them, the shared dimension coalescing (ops/kernels/iteration.h), and the ops that hand a
// channels-last input to kernels registered as taking it (kernels::kChannelsLast).
//
// The CPU's own kernels take NCHW only, so the last part installs stand-in CPU kernels that
// declare channels-last: each checks that every 4-D tensor of its call is in one format, and
// for a channels-last call runs the real CPU kernel on NCHW copies and writes the results back
// in channels-last order. That exercises, here, the op-side path a GPU takes (formats chosen,
// outputs and gradients allocated, saved tensors), against the NCHW path bit for bit.
#include <algorithm>
#include <tuple>

#include "ops/internal.h"
#include "ops/kernel_table.h"
#include "ops/kernels/iteration.h"
#include "ops/kernels/nn.h"
#include "ops/nn_ops.h"
#include "tests/cuda/cuda_test_util.h"  // small_resnet
#include "tests/test_util.h"

using namespace dsvd;

namespace {

Tensor random_tensor(const Shape& shape, uint64_t seed, DType dtype = DType::Float32) {
  Generator g(seed);
  return randn(shape, dtype, &g);
}

// Element (n, c, h, w) of a channels-last tensor, read from raw memory in NHWC order.
double raw_nhwc(const Tensor& t, int64_t n, int64_t c, int64_t h, int64_t w) {
  const float* p = t.data<float>();
  const int64_t C = t.size(1), H = t.size(2), W = t.size(3);
  return p[((n * H + h) * W + w) * C + c];
}

}  // namespace

TEST_CASE("memory format: channels-last strides, density and the format a tensor has") {
  CHECK(strides_for({2, 3, 4, 5}, MemoryFormat::ChannelsLast) == Shape{60, 1, 15, 3});
  CHECK(strides_for({2, 3, 4, 5}, MemoryFormat::Contiguous) == Shape{60, 20, 5, 1});
  CHECK_THROWS_WITH_AS(strides_for({2, 3, 4}, MemoryFormat::ChannelsLast),
                       doctest::Contains("channels-last: needs a 4-D"), Error);

  Tensor cl = empty({2, 3, 4, 5}, DType::Float32, Device::cpu(), MemoryFormat::ChannelsLast);
  CHECK(memory_format_of(cl) == MemoryFormat::ChannelsLast);
  CHECK_FALSE(cl.is_contiguous());
  CHECK(is_dense_in(cl, MemoryFormat::ChannelsLast));
  CHECK(memory_format_of(empty({2, 3, 4, 5})) == MemoryFormat::Contiguous);
  // One channel, or 1x1 planes: both orders are the same memory, which counts as contiguous.
  CHECK(memory_format_of(empty({2, 1, 4, 5}, DType::Float32, Device::cpu(), MemoryFormat::ChannelsLast)) ==
        MemoryFormat::Contiguous);
  CHECK(memory_format_of(empty({2, 3, 1, 1}, DType::Float32, Device::cpu(), MemoryFormat::ChannelsLast)) ==
        MemoryFormat::Contiguous);
  // A strided view is in neither format.
  Tensor big = empty({2, 3, 4, 10});
  CHECK(memory_format_of(big.narrow(3, 0, 5)) == MemoryFormat::Contiguous);
  CHECK_FALSE(is_dense_in(big.narrow(3, 0, 5), MemoryFormat::ChannelsLast));
  CHECK_FALSE(is_dense_in(empty({6, 4}), MemoryFormat::ChannelsLast));
}

TEST_CASE("memory format: contiguous(ChannelsLast) lays the values out NHWC and passes gradients through") {
  Tensor x = random_tensor({2, 3, 4, 5}, 1).requires_grad_();
  Tensor y = x.contiguous(MemoryFormat::ChannelsLast);
  REQUIRE(memory_format_of(y) == MemoryFormat::ChannelsLast);
  CHECK(to_vector(y) == to_vector(x));  // the logical values are the same
  const auto xs = to_vector(x);
  bool nhwc = true;
  for (int64_t n = 0; n < 2; ++n)
    for (int64_t c = 0; c < 3; ++c)
      for (int64_t h = 0; h < 4; ++h)
        for (int64_t w = 0; w < 5; ++w) nhwc &= raw_nhwc(y, n, c, h, w) == xs[size_t(((n * 3 + c) * 4 + h) * 5 + w)];
  CHECK(nhwc);
  CHECK(y.contiguous(MemoryFormat::ChannelsLast).impl() == y.impl());  // already so: itself
  Tensor back = y.contiguous();
  CHECK(back.is_contiguous());
  CHECK(to_vector(back) == xs);

  Tensor weights = random_tensor({2, 3, 4, 5}, 2);
  sum(mul(y, weights)).backward();
  CHECK(to_vector(x.grad()) == to_vector(weights));
}

namespace {

// Every (offset of operand 0, ..., offset of operand K-1) of an iteration space, sorted: what a
// loop over it visits, whatever the order.
template <size_t K>
std::vector<std::array<int64_t, K>> visited(const Shape& sizes, const std::array<Shape, K>& strides) {
  std::vector<std::array<int64_t, K>> out;
  int64_t numel = 1;
  for (int64_t s : sizes) numel *= s;
  for (int64_t i = 0; i < numel; ++i) {
    std::array<int64_t, K> off{};
    int64_t rem = i;
    for (size_t d = sizes.size(); d-- > 0;) {
      const int64_t idx = rem % sizes[d];
      rem /= sizes[d];
      for (size_t k = 0; k < K; ++k) off[k] += idx * strides[k][d];
    }
    out.push_back(off);
  }
  std::sort(out.begin(), out.end());
  return out;
}

template <size_t K>
kernels::IterationDims<K> coalesced(const Shape& sizes, const std::array<Shape, K>& strides) {
  std::array<const Shape*, K> p;
  for (size_t k = 0; k < K; ++k) p[k] = &strides[k];
  return kernels::coalesce_dims<K>(sizes, p);
}

}  // namespace

TEST_CASE("coalesce_dims: dense outputs become one run in either format, and every element is still visited once") {
  const Shape sizes = {2, 3, 4, 5};
  const Shape nchw = strides_for(sizes, MemoryFormat::Contiguous), nhwc = strides_for(sizes, MemoryFormat::ChannelsLast);
  const Shape bias = {0, 1, 0, 0};  // a (1, C, 1, 1) operand expanded to the shape
  const std::vector<std::array<Shape, 2>> cases = {
      {nchw, nchw}, {nhwc, nhwc}, {nhwc, nchw}, {nchw, nhwc}, {nhwc, bias}, {nchw, bias}};
  for (const auto& strides : cases) {
    const auto g = coalesced<2>(sizes, strides);
    CHECK(visited<2>(g.sizes, g.strides) == visited<2>(sizes, strides));
  }
  // Same layout on both sides: one dimension of unit stride, in memory order.
  for (const Shape& s : {nchw, nhwc}) {
    const auto g = coalesced<2>(sizes, {s, s});
    CHECK(g.sizes == Shape{120});
    CHECK(g.strides[0] == Shape{1});
    CHECK(g.strides[1] == Shape{1});
  }
  // A channels-last output is walked in its memory order: the innermost dimension is C (stride 1).
  const auto mixed = coalesced<2>(sizes, {nhwc, nchw});
  CHECK(mixed.strides[0].back() == 1);
  CHECK(mixed.strides[1].back() == 20);  // C's stride in the NCHW operand
  // Size-1 dimensions and a single element.
  const auto single = coalesced<1>({1, 1}, {Shape{1, 1}});
  CHECK(single.sizes == Shape{1});
  const auto transposed = coalesced<2>({3, 4}, {Shape{1, 3}, Shape{4, 1}});
  CHECK(visited<2>(transposed.sizes, transposed.strides) == visited<2>({3, 4}, {Shape{1, 3}, Shape{4, 1}}));
}

TEST_CASE("element-wise ops: a channels-last input gives a channels-last output with the same values") {
  const Shape shape = {2, 3, 4, 5};
  Tensor a = random_tensor(shape, 3), b = random_tensor(shape, 4), bias = random_tensor({1, 3, 1, 1}, 5);
  Tensor acl = a.contiguous(MemoryFormat::ChannelsLast), bcl = b.contiguous(MemoryFormat::ChannelsLast);
  auto same = [](const std::string& what, const Tensor& got, const Tensor& expected) {
    CAPTURE(what);
    CHECK(memory_format_of(got) == MemoryFormat::ChannelsLast);
    CHECK(to_vector(got) == to_vector(expected));
  };
  same("relu", relu(acl), relu(a));
  same("exp", exp(acl), exp(a));
  same("add", add(acl, bcl), add(a, b));
  same("add, second NCHW", add(acl, b), add(a, b));  // mixed formats: the channels-last operand decides
  same("add, first NCHW", add(a, bcl), add(a, b));
  same("mul by a (1, C, 1, 1) tensor", mul(acl, bias), mul(a, bias));
  same("mul by a number", mul(acl, 2.0), mul(a, 2.0));
  same("to(float64)", acl.to(DType::Float64), a.to(DType::Float64));
  same("where", where(gt(acl, 0.0), acl, bcl), where(gt(a, 0.0), a, b));
  // Both operands NCHW: NCHW, as before.
  CHECK(add(a, b).is_contiguous());

  // ReLU's backward follows the result's format.
  Tensor x = acl.detach().requires_grad_();
  Tensor grad = random_tensor(shape, 6);
  relu(x).backward(grad);
  Tensor x2 = a.detach().requires_grad_();
  relu(x2).backward(grad);
  CHECK(to_vector(x.grad()) == to_vector(x2.grad()));
}

TEST_CASE("ops on the CPU: a channels-last input gives the NCHW results (the CPU's kernels take NCHW)") {
  Tensor x = random_tensor({2, 4, 7, 6}, 7), w = random_tensor({6, 4, 3, 3}, 8);
  Conv2dOptions o;
  o.padding = {1, 1};
  CHECK_FALSE(kernels::takes_channels_last<kernels::Conv2dForwardKernel>(Device::Kind::CPU));
  Tensor y = conv2d(x.contiguous(MemoryFormat::ChannelsLast), w, Tensor(), o);
  CHECK(y.is_contiguous());
  CHECK(to_vector(y) == to_vector(conv2d(x, w, Tensor(), o)));
}

// ---- stand-in channels-last CPU kernels --------------------------------------------------------

namespace {

template <typename Family>
typename Family::Fn* g_real = nullptr;  // the CPU kernel a stand-in runs
int g_channels_last_calls = 0;

// Whether a call's 4-D tensors are channels-last (all of them) or NCHW (all of them); fails the
// test when they mix.
struct CallFormat {
  int channels_last = 0, nchw = 0;
  template <typename A>
  void note(const A& a) {
    if constexpr (std::is_same_v<std::decay_t<A>, Tensor>) {
      if (!a.defined() || a.dim() != 4) return;
      if (memory_format_of(a) == MemoryFormat::ChannelsLast) ++channels_last;
      else if (!is_dense_in(a, MemoryFormat::ChannelsLast)) ++nchw;  // ambiguous ones count as both
    }
  }
};

// The argument the real kernel gets: an NCHW copy of a channels-last tensor (copied back after the
// call), the geometry with its channels-last flag cleared; the rest as it is.
template <typename P, typename A>
decltype(auto) to_nchw(A& a, bool channels_last, std::vector<std::pair<Tensor, Tensor>>& write_back) {
  using T = std::decay_t<A>;
  if constexpr (std::is_same_v<P, const Tensor&>) {
    if (!channels_last || !a.defined() || a.dim() != 4 || a.is_contiguous()) return Tensor(a);
    Tensor copy = detail::contiguous_raw(a);
    write_back.emplace_back(a, copy);
    return copy;
  } else if constexpr (std::is_same_v<T, kernels::Conv2dGeometry> || std::is_same_v<T, kernels::PoolWindows>) {
    CHECK(a.channels_last == channels_last);  // the op told the kernel the format it chose
    T plain = a;
    plain.channels_last = false;
    return plain;
  } else {
    return static_cast<P>(a);
  }
}

template <typename Family, typename Fn>
struct StandIn;
template <typename Family, typename... Ps>
struct StandIn<Family, void(Ps...)> {
  static void run(Ps... args) {
    CallFormat f;
    (f.note(args), ...);
    REQUIRE_MESSAGE(f.channels_last * f.nchw == 0, Family::name << ": a call mixing channels-last and NCHW tensors");
    const bool channels_last = f.channels_last > 0;
    g_channels_last_calls += channels_last;
    std::vector<std::pair<Tensor, Tensor>> write_back;
    [&](auto&&... adapted) { g_real<Family>(std::forward<decltype(adapted)>(adapted)...); }(
        to_nchw<Ps>(args, channels_last, write_back)...);
    for (const auto& [out, copy] : write_back) detail::copy_raw(out, copy);
  }
};

// Installs the stand-ins of `Families` on the CPU (declaring kChannelsLast) for its lifetime, and
// removes the CPU's fused batch norm + ReLU kernels, as CUDA has none (the op composes it).
template <typename... Families>
class StandIns {
 public:
  StandIns() {
    (install<Families>(), ...);
    for (auto** slot : fused_slots()) saved_fused_.push_back(*slot);
    for (auto** slot : fused_slots()) *slot = nullptr;
  }
  ~StandIns() {
    (restore<Families>(), ...);
    auto slots = fused_slots();
    for (size_t i = 0; i < slots.size(); ++i) *slots[i] = saved_fused_[i];
  }

 private:
  static constexpr size_t kCpu = size_t(Device::Kind::CPU);
  template <typename F>
  void install() {
    g_real<F> = kernels::Table<F>::slot[kCpu];
    kernels::Table<F>::slot[kCpu] = &StandIn<F, typename F::Fn>::run;
    kernels::Table<F>::traits[kCpu] |= kernels::kChannelsLast;
  }
  template <typename F>
  void restore() {
    kernels::Table<F>::slot[kCpu] = g_real<F>;
    kernels::Table<F>::traits[kCpu] &= ~unsigned(kernels::kChannelsLast);
  }
  std::vector<void**> fused_slots() {
    return {reinterpret_cast<void**>(&kernels::Table<kernels::BatchNormReluTrainingKernel>::slot[kCpu]),
            reinterpret_cast<void**>(&kernels::Table<kernels::BatchNormReluBackwardKernel>::slot[kCpu])};
  }
  std::vector<void*> saved_fused_;
};

using ChannelsLastCpu =
    StandIns<kernels::Conv2dForwardKernel, kernels::Conv2dBackwardKernel, kernels::BatchNormTrainingKernel,
             kernels::BatchNormBackwardKernel, kernels::BatchNormInferenceKernel,
             kernels::BatchNormInferenceBackwardKernel, kernels::MaxPool2dForwardKernel,
             kernels::MaxPool2dBackwardKernel, kernels::AvgPool2dForwardKernel, kernels::AvgPool2dBackwardKernel>;

// y = op(x, params...) and the gradients of sum(y · g) for x and params, with x channels-last or
// not; params stay NCHW (as a model's parameters do).
struct Run {
  Tensor y;
  std::vector<std::vector<double>> grads;
};
template <typename Op>
Run run_op(const Tensor& x, std::vector<Tensor> params, bool channels_last, Op op) {
  Tensor xin = x.detach().clone().requires_grad_();
  for (Tensor& p : params) p = p.detach().clone().requires_grad_();
  Run r;
  r.y = op(channels_last ? xin.contiguous(MemoryFormat::ChannelsLast) : xin, params);
  Tensor g = random_tensor(r.y.sizes(), 99, r.y.dtype());
  sum(mul(r.y, g)).backward();
  r.grads.push_back(to_vector(xin.grad()));
  for (Tensor& p : params) r.grads.push_back(to_vector(p.grad()));
  return r;
}

template <typename Op>
void check_channels_last_path(const std::string& what, const Tensor& x, const std::vector<Tensor>& params, Op op) {
  CAPTURE(what);
  ChannelsLastCpu stand_ins;
  const Run nchw = run_op(x, params, false, op);
  g_channels_last_calls = 0;
  const Run cl = run_op(x, params, true, op);
  CHECK(g_channels_last_calls >= 2);  // forward and backward took the channels-last kernels
  CHECK(memory_format_of(cl.y) == MemoryFormat::ChannelsLast);
  CHECK(nchw.y.is_contiguous());
  CHECK(to_vector(cl.y) == to_vector(nchw.y));
  REQUIRE(cl.grads.size() == nchw.grads.size());
  for (size_t i = 0; i < cl.grads.size(); ++i) CHECK(cl.grads[i] == nchw.grads[i]);
}

}  // namespace

TEST_CASE("channels-last kernels: conv2d, batch norm and pooling keep the format and equal the NCHW path") {
  Tensor x = random_tensor({3, 4, 9, 8}, 11);
  Conv2dOptions o;
  o.stride = {2, 1};
  o.padding = {1, 2};
  o.groups = 2;
  check_channels_last_path("conv2d", x, {random_tensor({6, 2, 3, 5}, 12), random_tensor({6}, 13)},
                           [&](const Tensor& in, const std::vector<Tensor>& p) { return conv2d(in, p[0], p[1], o); });
  // The weight's gradient comes back in the parameter's own NCHW layout.
  {
    ChannelsLastCpu stand_ins;
    Tensor w = random_tensor({6, 2, 3, 5}, 12).requires_grad_();
    sum(conv2d(x.contiguous(MemoryFormat::ChannelsLast), w, Tensor(), o)).backward();
    CHECK(w.grad().is_contiguous());
  }
  Tensor running_mean = zeros({4}), running_var = ones({4});
  check_channels_last_path("batch_norm (training)", x, {random_tensor({4}, 14), random_tensor({4}, 15)},
                           [&](const Tensor& in, const std::vector<Tensor>& p) {
                             return batch_norm(in, p[0], p[1], Tensor(), Tensor(), true, 0.1, 1e-5);
                           });
  check_channels_last_path("batch_norm (evaluation)", x, {random_tensor({4}, 14), random_tensor({4}, 15)},
                           [&](const Tensor& in, const std::vector<Tensor>& p) {
                             return batch_norm(in, p[0], p[1], random_tensor({4}, 16), add(exp(random_tensor({4}, 17)), 0.5),
                                               false, 0.1, 1e-5);
                           });
  Pool2dOptions pool;
  pool.kernel = {3, 3};
  pool.stride = {2, 2};
  pool.padding = {1, 1};
  check_channels_last_path("max_pool2d", x, {}, [&](const Tensor& in, const std::vector<Tensor>&) { return max_pool2d(in, pool); });
  check_channels_last_path("avg_pool2d", x, {}, [&](const Tensor& in, const std::vector<Tensor>&) { return avg_pool2d(in, pool); });
  // batch_norm_relu composes BN, add and ReLU where the fused kernels are missing (as on CUDA):
  // the whole block stays channels-last.
  check_channels_last_path("batch_norm_relu", x, {random_tensor({4}, 14), random_tensor({4}, 15), random_tensor(x.sizes(), 18)},
                           [&](const Tensor& in, const std::vector<Tensor>& p) {
                             const Tensor residual = p[2].contiguous(memory_format_of(in));  // as the input
                             return batch_norm_relu(in, residual, p[0], p[1], Tensor(), Tensor(), true, 0.1, 1e-5);
                           });
}

TEST_CASE("channels-last kernels: a ResNet trained one step from channels-last images equals the NCHW step") {
  ChannelsLastCpu stand_ins;
  auto step = [](bool channels_last) {
    nn::ModulePtr model = test::small_resnet("svd-pade");
    model->train();
    Tensor images = random_tensor({4, 3, 16, 16}, 21);
    Tensor labels = from_vector({0, 3, 1, 4}, {4}, DType::Int64);
    Tensor logits = model->forward(channels_last ? images.contiguous(MemoryFormat::ChannelsLast) : images);
    Tensor loss = cross_entropy(logits, labels);
    loss.backward();
    std::vector<std::vector<double>> out = {to_vector(loss)};
    for (const Tensor& p : model->parameters()) out.push_back(to_vector(p.grad()));
    return out;
  };
  const auto nchw = step(false);
  g_channels_last_calls = 0;
  const auto cl = step(true);
  CHECK(g_channels_last_calls > 20);  // the convolutions, batch norms and pooling of the whole network
  REQUIRE(cl.size() == nchw.size());
  CHECK(cl[0] == nchw[0]);
  size_t equal = 0;
  for (size_t i = 0; i < cl.size(); ++i) equal += cl[i] == nchw[i];
  CHECK(equal == cl.size());
}
