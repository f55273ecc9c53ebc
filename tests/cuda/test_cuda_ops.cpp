// Every op on the GPU against the same op on the CPU: random inputs, forward outputs and the
// gradients of a random upstream gradient, compared element by element. float64 cases compare
// tightly (the GPU libraries only reorder sums); float32 cases run with TF32 off. Every case is
// reported as skipped on a machine without a CUDA device.
#include <cmath>
#include <functional>
#include <limits>
#include <map>

#include "autograd/autocast_mode.h"
#include "dsvd_config.h"
#include "ops/precision.h"
#include "tensor/device_backend.h"
#include "nn/models/model_options.h"
#include "nn/optim/sgd.h"
#include "ops/matfn/fast_sqrt.h"
#include "ops/matfn/inverse_sqrtm.h"
#include "ops/matfn/repair.h"
#include "ops/matfn/sqrtm.h"
#include "ops/matfn/symeig.h"
#include "ops/nn_ops.h"
#include "ops/optim.h"
#include "tests/cuda/cuda_test_util.h"
#include "tests/test_util.h"
#if DSVD_HAVE_CUDA
#include "cuda/cudnn_graph.h"  // graph_convolutions_run: the CUDA backend's own counter
#endif

using namespace dsvd;

namespace {

using test::has_device;
using test::kGpu;
using test::random;

using Op = std::function<Tensor(const std::vector<Tensor>&)>;

// Runs `op` on CPU copies and GPU copies of `inputs` (float inputs require grad), backward with
// the same random upstream gradient, and checks outputs and input gradients agree.
void check_op_on_gpu(const char* what, const Op& op, const std::vector<Tensor>& inputs, double atol = 1e-10,
                     double rtol = 1e-9, uint64_t seed = 7) {
  INFO(std::string(what));
  std::vector<Tensor> cpu_in, gpu_in;
  for (const Tensor& t : inputs) {
    Tensor c = t.clone(), g = t.to(kGpu);
    if (is_floating(t.dtype())) {
      c.requires_grad_();
      g.requires_grad_();
    }
    cpu_in.push_back(c);
    gpu_in.push_back(g);
  }
  Tensor y_cpu = op(cpu_in);
  Tensor y_gpu = op(gpu_in);
  REQUIRE(y_gpu.device() == kGpu);
  CHECK_CLOSE(y_gpu, y_cpu, atol, rtol);
  if (!y_cpu.requires_grad()) return;
  Generator gen(seed);
  Tensor up = randn(y_cpu.sizes(), y_cpu.dtype(), &gen);
  y_cpu.backward(up);
  y_gpu.backward(up.to(kGpu));
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (!cpu_in[i].requires_grad()) continue;
    INFO("gradient of input " << i);
    REQUIRE(cpu_in[i].grad().defined() == gpu_in[i].grad().defined());
    if (!cpu_in[i].grad().defined()) continue;
    CHECK(gpu_in[i].grad().device() == kGpu);
    CHECK_CLOSE(gpu_in[i].grad(), cpu_in[i].grad(), atol, rtol);
  }
}

// Two equal small ResNet-18s (5 classes, 16x16 inputs) with `head`: one on the CPU, one on the GPU.
std::pair<nn::ModulePtr, nn::ModulePtr> twin_resnets(const char* head) {
  auto cpu_model = test::small_resnet(head);
  auto gpu_model = test::small_resnet(head);
  gpu_model->to(kGpu);
  return {cpu_model, gpu_model};
}

// TF32 off for the float32 cases, restored after.
struct NoTf32 {
  bool conv = tf32_conv(), mm = tf32_matmul();
  NoTf32() {
    set_tf32_conv(false);
    set_tf32_matmul(false);
  }
  ~NoTf32() {
    set_tf32_conv(conv);
    set_tf32_matmul(mm);
  }
};

}  // namespace

TEST_CASE("cuda ops: copies between devices keep values, dtype conversions and strided layouts" * doctest::skip(!has_device())) {
  Tensor x = random({3, 4, 5}, 1);
  CHECK_CLOSE(x.to(kGpu).to(Device::cpu()), x, 0, 0);
  Tensor t = x.transpose(0, 2);  // strided source
  CHECK_CLOSE(t.to(kGpu), t, 0, 0);
  CHECK_CLOSE(x.to(kGpu).transpose(0, 2).contiguous(), t, 0, 0);
  CHECK_CLOSE(x.to(kGpu).to(DType::Float32), x.to(DType::Float32), 0, 0);
  // transposes large enough for the tiled kernel: batched, 2-D, and converting the dtype
  Tensor big = random({3, 40, 50}, 5);
  CHECK_CLOSE(big.to(kGpu).transpose(1, 2).contiguous(), big.transpose(1, 2).contiguous(), 0, 0);
  Tensor wide = random({70, 90}, 6);
  CHECK_CLOSE(wide.to(kGpu).t().contiguous(), wide.t().contiguous(), 0, 0);
  CHECK_CLOSE(wide.to(kGpu).t().to(DType::Float32), wide.t().to(DType::Float32), 0, 0);
  Tensor labels = randint(0, 10, {17});
  CHECK_CLOSE(labels.to(kGpu), labels, 0, 0);
  CHECK(x.narrow(0, 0, 1).narrow(1, 0, 1).narrow(2, 0, 1).to(kGpu).item() == x.narrow(0, 0, 1).narrow(1, 0, 1).narrow(2, 0, 1).item());
  CHECK(zeros({2, 3}, DType::Float32, kGpu).device() == kGpu);
  CHECK_CLOSE(full({2, 2}, 2.5, DType::Float64, kGpu), std::vector<double>{2.5, 2.5, 2.5, 2.5}, 0, 0);
  CHECK_CLOSE(eye(3, DType::Float64, kGpu), eye(3, DType::Float64), 0, 0);
  CHECK(x.to(kGpu).str().find("device='cuda:0'") != std::string::npos);
}

TEST_CASE("cuda ops: operands on different devices are refused by name" * doctest::skip(!has_device())) {
  Tensor a = random({2, 3}, 2), b = random({2, 3}, 3).to(kGpu);
  CHECK_THROWS_WITH_AS(add(a, b), doctest::Contains("different devices"), Error);
  CHECK_THROWS_WITH_AS(matmul(a, random({3, 2}, 4).to(kGpu)), doctest::Contains("different devices"), Error);
  // a 0-d CPU tensor is a number next to a GPU tensor, as in PyTorch
  CHECK_CLOSE(mul(b, scalar_tensor(2.0, DType::Float64)), mul(b.to(Device::cpu()), 2.0), 0, 0);
}

TEST_CASE("cuda ops: element-wise math and broadcasting" * doctest::skip(!has_device())) {
  Tensor a = random({4, 1, 5}, 10), b = random({3, 1}, 11), pos = add(abs(random({4, 3, 5}, 12)), 0.1);
  check_op_on_gpu("add", [](auto& v) { return add(v[0], v[1]); }, {a, b});
  check_op_on_gpu("sub", [](auto& v) { return sub(v[0], v[1]); }, {a, b});
  check_op_on_gpu("mul", [](auto& v) { return mul(v[0], v[1]); }, {a, b});
  check_op_on_gpu("div", [](auto& v) { return div(v[0], add(mul(v[1], v[1]), 0.5)); }, {a, b});
  check_op_on_gpu("scalars", [](auto& v) { return rsub(rdiv(add(mul(v[0], 3.0), 1.0), 2.0), 0.5); }, {pos});
  check_op_on_gpu("exp log sqrt", [](auto& v) { return add(exp(v[0]), mul(log(v[1]), sqrt(v[1]))); }, {a, pos});
  check_op_on_gpu("pow", [](auto& v) { return pow(v[0], 1.7); }, {pos});
  check_op_on_gpu("abs neg sign", [](auto& v) { return add(neg(abs(v[0])), sign(v[0])); }, {a});
  check_op_on_gpu("clamp", [](auto& v) { return clamp(v[0], -0.3, 0.4); }, {a});
  check_op_on_gpu("relu", [](auto& v) { return relu(v[0]); }, {a});
  check_op_on_gpu("sigmoid tanh", [](auto& v) { return mul(sigmoid(v[0]), tanh(v[0])); }, {a});
  check_op_on_gpu("compare + where", [](auto& v) { return where(gt(v[0], v[1]), v[0], mul(v[1], 2.0)); }, {a, b});
  check_op_on_gpu("where with a number", [](auto& v) { return where(le(v[0], 0.2), scalar_tensor(0.2, DType::Float64), v[0]); }, {a});
  check_op_on_gpu("polynomial", [](auto& v) { return polynomial(v[0], {0.5, -1.0, 0.25, 0.125}); }, {a});
  check_op_on_gpu("float32", [](auto& v) { return mul(exp(v[0]), v[1]); }, {a.to(DType::Float32), b.to(DType::Float32)}, 1e-6, 1e-5);
  // dense float32 of a multiple of 4 elements: the 4-wide kernels
  Tensor f = random({8, 16}, 13, DType::Float32), h = random({8, 16}, 14, DType::Float32);
  check_op_on_gpu("float32 dense", [](auto& v) { return relu(sub(mul(add(v[0], v[1]), v[1]), exp(v[0]))); }, {f, h}, 1e-6, 1e-5);
  check_op_on_gpu("to dtype", [](auto& v) { return v[0].to(DType::Float32).to(DType::Float64); }, {a});
}

TEST_CASE("cuda ops: reductions, max and shape ops" * doctest::skip(!has_device())) {
  Tensor x = random({4, 6, 5}, 20);
  check_op_on_gpu("sum all", [](auto& v) { return sum(v[0]); }, {x});
  check_op_on_gpu("sum dims", [](auto& v) { return sum(v[0], {0, 2}, true); }, {x});
  check_op_on_gpu("mean", [](auto& v) { return mean(v[0], {1}); }, {x});
  check_op_on_gpu("var", [](auto& v) { return var(v[0], {2}, 1, false); }, {x});
  check_op_on_gpu("max", [](auto& v) { return max(v[0], 1).values; }, {x});
  CHECK_CLOSE(argmax(x.to(kGpu), 2), argmax(x, 2), 0, 0);
  check_op_on_gpu("matmul 2-D", [](auto& v) { return matmul(v[0], v[1]); }, {random({5, 7}, 21), random({7, 3}, 22)});
  check_op_on_gpu("matmul batched", [](auto& v) { return matmul(v[0], v[1]); }, {random({4, 5, 7}, 23), random({4, 7, 3}, 24)});
  check_op_on_gpu("matmul broadcast + transposed", [](auto& v) { return matmul(v[0].transpose(1, 2), v[1]); },
                  {random({4, 7, 5}, 25), random({7, 3}, 26)});
  {
    NoTf32 off;
    check_op_on_gpu("matmul float32", [](auto& v) { return matmul(v[0], v[1].t()); },
                    {random({33, 40}, 27, DType::Float32), random({17, 40}, 28, DType::Float32)}, 1e-4, 1e-4);
  }
  check_op_on_gpu("cat stack", [](auto& v) { return stack({cat({v[0], v[1]}, 1), cat({v[1], v[0]}, 1)}, 0); },
                  {random({3, 2}, 29), random({3, 4}, 30)});
  check_op_on_gpu("views", [](auto& v) { return v[0].permute({2, 0, 1}).slice(1, 1, 4, 2).reshape({-1}); }, {x});
  check_op_on_gpu("diag triu", [](auto& v) { return add(diag(diag(v[0])), triu(v[0], 1)); }, {random({5, 5}, 31)});
  check_op_on_gpu("diag_embed", [](auto& v) { return diag_embed(v[0]); }, {random({3, 4}, 32)});
  check_op_on_gpu("triu_vec", [](auto& v) { return triu_vec(v[0]); }, {random({3, 6, 6}, 33)});
  check_op_on_gpu("triu_unvec", [](auto& v) { return triu_unvec(v[0], 6); }, {random({3, 21}, 34)});
}

TEST_CASE("cuda ops: conv2d through cuDNN, every option" * doctest::skip(!has_device())) {
  struct Case { Shape x, w; Conv2dOptions o; bool bias; };
  const Case cases[] = {
      {{2, 3, 9, 8}, {4, 3, 3, 3}, {{1, 1}, {1, 1}, {1, 1}, 1}, true},
      {{2, 4, 11, 10}, {6, 2, 3, 2}, {{2, 1}, {0, 1}, {1, 2}, 2}, false},
      {{1, 3, 12, 12}, {5, 3, 5, 5}, {{3, 3}, {2, 2}, {1, 1}, 1}, true},
      {{3, 8, 6, 6}, {8, 8, 1, 1}, {{1, 1}, {0, 0}, {1, 1}, 1}, false},
  };
  uint64_t seed = 40;
  for (const Case& c : cases) {
    std::vector<Tensor> in{random(c.x, seed++), random(c.w, seed++)};
    if (c.bias) in.push_back(random({c.w[0]}, seed++));
    Conv2dOptions o = c.o;
    check_op_on_gpu("conv2d f64", [o](auto& v) { return conv2d(v[0], v[1], v.size() > 2 ? v[2] : Tensor(), o); }, in, 1e-10, 1e-9);
    std::vector<Tensor> in32;
    for (auto& t : in) in32.push_back(t.to(DType::Float32));
    NoTf32 off;  // for the backward passes too
    check_op_on_gpu("conv2d f32", [o](auto& v) { return conv2d(v[0], v[1], v.size() > 2 ? v[2] : Tensor(), o); },
                    in32, 1e-4, 1e-4);
  }
}

#if DSVD_HAVE_CUDA
// The same convolutions, and AlexNet's 11x11/4 and 5x5 layers, through cuDNN's graph API
// (DSVD_CUDNN_API=graph), against the CPU: float64, float32 without TF32, and bfloat16 data with
// float32 accumulation against the CPU's float32 result.
TEST_CASE("cuda ops: conv2d through cuDNN's graph API, as on the CPU" * doctest::skip(!has_device())) {
  struct Case { Shape x, w; Conv2dOptions o; bool bias; };
  const Case cases[] = {
      {{2, 3, 9, 8}, {4, 3, 3, 3}, {{1, 1}, {1, 1}, {1, 1}, 1}, true},
      {{1, 3, 12, 12}, {5, 3, 5, 5}, {{3, 3}, {2, 2}, {1, 1}, 1}, true},
      {{3, 8, 6, 6}, {8, 8, 1, 1}, {{1, 1}, {0, 0}, {1, 1}, 1}, false},
      {{2, 3, 63, 63}, {16, 3, 11, 11}, {{4, 4}, {2, 2}, {1, 1}, 1}, true},   // AlexNet's first layer
      {{2, 16, 15, 15}, {24, 16, 5, 5}, {{1, 1}, {2, 2}, {1, 1}, 1}, true},   // its 5x5
      {{2, 4, 11, 10}, {6, 2, 3, 2}, {{2, 1}, {0, 1}, {1, 2}, 2}, false},    // groups, uneven: may fall back
  };
  setenv("DSVD_CUDNN_API", "graph", 1);
  const int64_t runs_before = cuda::graph_convolutions_run();
  uint64_t seed = 140;
  for (const Case& c : cases) {
    std::vector<Tensor> in{random(c.x, seed++), random(c.w, seed++)};
    if (c.bias) in.push_back(random({c.w[0]}, seed++));
    Conv2dOptions o = c.o;
    auto op = [o](auto& v) { return conv2d(v[0], v[1], v.size() > 2 ? v[2] : Tensor(), o); };
    check_op_on_gpu("graph conv2d f64", op, in, 1e-10, 1e-9);
    std::vector<Tensor> in32, in16;
    for (auto& t : in) in32.push_back(t.to(DType::Float32));
    {
      NoTf32 off;
      check_op_on_gpu("graph conv2d f32", op, in32, 1e-4, 1e-4);
    }
    // bfloat16 operands rounded once, products summed in float32: the CPU's float32 convolution of
    // the same rounded operands, within bfloat16's rounding of the result (2^-8 relative).
    for (auto& t : in32) in16.push_back(t.to(DType::BFloat16).to(DType::Float32));
    Tensor expected = op(in16);
    std::vector<Tensor> gpu16;
    for (auto& t : in16) gpu16.push_back(t.to(DType::BFloat16).to(kGpu));
    Tensor got = op(gpu16);
    CHECK(got.dtype() == DType::BFloat16);
    CHECK_CLOSE(got.to(Device::cpu()).to(DType::Float32), expected, 2e-2, 1e-2);
  }
  unsetenv("DSVD_CUDNN_API");
  CHECK(cuda::graph_convolutions_run() > runs_before + 20);  // the graph API ran (most passes of most cases)
}
#endif

#if DSVD_HAVE_CUDA
// conv2d_relu: cuDNN's runtime fusion of convolution, bias and ReLU under DSVD_CUDNN_API=graph
// (where an engine plans it; else, as under the legacy API, the convolution and ReLU in place),
// against the CPU's relu(conv2d(...)); NCHW and channels-last, float32 and bfloat16.
TEST_CASE("cuda ops: conv2d_relu (runtime fusion under the graph API) as on the CPU" * doctest::skip(!has_device())) {
  const Conv2dOptions o{{2, 2}, {1, 1}, {1, 1}, 1};
  auto fused = [o](bool channels_last, bool bias) {
    return [o, channels_last, bias](const std::vector<Tensor>& v) {
      const bool gpu = v[0].device().is_cuda();
      const Tensor x = gpu && channels_last ? v[0].contiguous(MemoryFormat::ChannelsLast) : v[0];
      return gpu ? conv2d_relu(x, v[1], bias ? v[2] : Tensor(), o) : relu(conv2d(x, v[1], bias ? v[2] : Tensor(), o));
    };
  };
  for (const char* api : {"legacy", "graph"}) {
    INFO("DSVD_CUDNN_API=" << api);
    setenv("DSVD_CUDNN_API", api, 1);
    const int64_t runs_before = cuda::graph_convolutions_run();
    for (bool channels_last : {false, true}) {
      INFO("channels-last " << channels_last);
      {
        NoTf32 off;
        std::vector<Tensor> in{random({4, 16, 15, 15}, 320, DType::Float32), random({32, 16, 3, 3}, 321, DType::Float32),
                               random({32}, 322, DType::Float32)};
        check_op_on_gpu("conv2d_relu f32 with bias", fused(channels_last, true), in, 1e-4, 1e-4);
        check_op_on_gpu("conv2d_relu f32 without bias", fused(channels_last, false), in, 1e-4, 1e-4);
      }
      auto rounded = [](const Shape& sh, uint64_t seed) { return random(sh, seed, DType::Float32).to(DType::BFloat16); };
      check_op_on_gpu("conv2d_relu bf16", fused(channels_last, true),
                      {rounded({4, 16, 15, 15}, 323), rounded({32, 16, 3, 3}, 324), rounded({32}, 325)}, 1e-2,
                      2.01 * machine_epsilon(DType::BFloat16));
    }
    MESSAGE("DSVD_CUDNN_API=" << api << ": " << cuda::graph_convolutions_run() - runs_before << " graph-API passes ran");
  }
  unsetenv("DSVD_CUDNN_API");
}
#endif

TEST_CASE("cuda ops: pooling with the CPU's window rules" * doctest::skip(!has_device())) {
  Tensor x = random({2, 3, 9, 10}, 60);
  Pool2dOptions mp;
  mp.kernel = {3, 3};
  mp.stride = {2, 2};
  mp.padding = {1, 1};
  check_op_on_gpu("max_pool2d", [mp](auto& v) { return max_pool2d(v[0], mp); }, {x});
  Pool2dOptions ceil = mp;
  ceil.padding = {0, 0};
  ceil.ceil_mode = true;
  check_op_on_gpu("max_pool2d ceil_mode", [ceil](auto& v) { return max_pool2d(v[0], ceil); }, {x});
  Pool2dOptions huge;  // 17x16 = 272 window positions: the flat-index variant
  huge.kernel = {17, 16};
  huge.stride = {3, 4};
  check_op_on_gpu("max_pool2d, large window", [huge](auto& v) { return max_pool2d(v[0], huge); }, {random({1, 2, 22, 24}, 61)});
  Pool2dOptions ap = ceil;
  ap.count_include_pad = false;
  ap.padding = {1, 1};
  check_op_on_gpu("avg_pool2d", [ap](auto& v) { return avg_pool2d(v[0], ap); }, {x});
  check_op_on_gpu("adaptive_avg_pool2d 1x1", [](auto& v) { return adaptive_avg_pool2d(v[0], {1, 1}); }, {x});
  check_op_on_gpu("adaptive_avg_pool2d 4x3", [](auto& v) { return adaptive_avg_pool2d(v[0], {4, 3}); }, {x});
}

TEST_CASE("cuda ops: batch norm (training with running statistics, and evaluation)" * doctest::skip(!has_device())) {
  Tensor x = add(mul(random({4, 3, 5, 6}, 70), 2.0), 0.5), w = random({3}, 71), b = random({3}, 72);
  Tensor rm_cpu = random({3}, 73), rv_cpu = add(abs(random({3}, 74)), 0.5);
  Tensor rm_gpu = rm_cpu.to(kGpu), rv_gpu = rv_cpu.to(kGpu);
  int calls = 0;
  check_op_on_gpu("batch_norm training", [&](auto& v) {
    bool gpu = v[0].device().is_cuda();
    ++calls;
    return batch_norm(v[0], v[1], v[2], gpu ? rm_gpu : rm_cpu, gpu ? rv_gpu : rv_cpu, true, 0.1, 1e-5);
  }, {x, w, b}, 1e-9, 1e-8);
  CHECK(calls == 2);
  CHECK_CLOSE(rm_gpu, rm_cpu, 1e-12, 1e-10);
  CHECK_CLOSE(rv_gpu, rv_cpu, 1e-12, 1e-10);
  check_op_on_gpu("batch_norm eval", [&](auto& v) {
    bool gpu = v[0].device().is_cuda();
    return batch_norm(v[0], v[1], v[2], gpu ? rm_gpu : rm_cpu, gpu ? rv_gpu : rv_cpu, false, 0.1, 1e-5);
  }, {x, w, b});
  check_op_on_gpu("batch_norm 2-D", [](auto& v) { return batch_norm(v[0], v[1], v[2], Tensor(), Tensor(), true); },
                  {random({6, 3}, 75), w, b}, 1e-9, 1e-8);
}

// batch_norm_relu on the GPU: cuDNN's batch norm with the add and ReLU in place (the default), and
// dsvd's own fused kernels (DSVD_CUDA_FUSED_BN=1), against the CPU's fused kernel: values, running
// statistics and every gradient; NCHW and channels-last, float64, float32 and bfloat16.
TEST_CASE("cuda ops: batch_norm_relu, both GPU paths, as on the CPU" * doctest::skip(!has_device())) {
  for (const char* own : {"0", "1"}) {
    INFO("DSVD_CUDA_FUSED_BN=" << own);
    setenv("DSVD_CUDA_FUSED_BN", own, 1);
    for (bool channels_last : {false, true}) {
      INFO("channels-last " << channels_last);
      for (bool residual : {false, true}) {
        INFO("residual " << residual);
        Tensor x = add(mul(random({4, 6, 5, 7}, 330), 2.0), 0.5), r = random({4, 6, 5, 7}, 331);
        Tensor w = random({6}, 332), b = random({6}, 333);
        Tensor rm_cpu = random({6}, 334), rv_cpu = add(abs(random({6}, 335)), 0.5);
        Tensor rm_gpu = rm_cpu.to(kGpu), rv_gpu = rv_cpu.to(kGpu);
        auto op = [&](const std::vector<Tensor>& v) {
          const bool gpu = v[0].device().is_cuda();
          const Tensor in = gpu && channels_last ? v[0].contiguous(MemoryFormat::ChannelsLast) : v[0];
          const Tensor res = !residual ? Tensor() : gpu && channels_last ? v[3].contiguous(MemoryFormat::ChannelsLast) : v[3];
          Tensor y = batch_norm_relu(in, res, v[1], v[2], gpu ? rm_gpu : rm_cpu, gpu ? rv_gpu : rv_cpu, true, 0.1, 1e-5);
          if (gpu && channels_last) CHECK(memory_format_of(y) == MemoryFormat::ChannelsLast);
          return y;
        };
        check_op_on_gpu("batch_norm_relu f64", op, {x, w, b, r}, 1e-9, 1e-8);
        CHECK_CLOSE(rm_gpu, rm_cpu, 1e-12, 1e-10);
        CHECK_CLOSE(rv_gpu, rv_cpu, 1e-12, 1e-10);
        {
          NoTf32 off;
          std::vector<Tensor> in32;
          for (const Tensor& t : {x, w, b, r}) in32.push_back(t.to(DType::Float32));
          rm_cpu = rm_cpu.to(DType::Float32);
          rv_cpu = rv_cpu.to(DType::Float32);
          rm_gpu = rm_cpu.to(kGpu);
          rv_gpu = rv_cpu.to(kGpu);
          check_op_on_gpu("batch_norm_relu f32", op, in32, 1e-4, 1e-4);
          CHECK_CLOSE(rm_gpu, rm_cpu, 1e-6, 1e-5);
          CHECK_CLOSE(rv_gpu, rv_cpu, 1e-6, 1e-5);
          // bfloat16 data, float32 parameters and statistics: the CPU widens and rounds once.
          std::vector<Tensor> in16 = {in32[0].to(DType::BFloat16), in32[1], in32[2], in32[3].to(DType::BFloat16)};
          check_op_on_gpu("batch_norm_relu bf16", op, in16, 1e-2, 2.01 * machine_epsilon(DType::BFloat16));
        }
      }
    }
  }
  unsetenv("DSVD_CUDA_FUSED_BN");
}

TEST_CASE("cuda ops: linear, log_softmax, cross_entropy, dropout, top-k" * doctest::skip(!has_device())) {
  Tensor x = random({6, 5}, 80), w = random({4, 5}, 81), b = random({4}, 82);
  check_op_on_gpu("linear", [](auto& v) { return linear(v[0], v[1], v[2]); }, {x, w, b});
  check_op_on_gpu("log_softmax", [](auto& v) { return log_softmax(v[0], 1); }, {x});
  Tensor targets = from_vector({0, 3, 1, 2, 3, 0}, {6}, DType::Int64);
  check_op_on_gpu("cross_entropy", [targets](auto& v) { return cross_entropy(v[0], targets.to(v[0].device())); }, {x.narrow(1, 0, 4)});
  check_op_on_gpu("cross_entropy smoothing", [targets](auto& v) { return cross_entropy(v[0], targets, 0.1); }, {x.narrow(1, 0, 4)});
  Tensor bad = from_vector({0, 7, 1, 2, 3, 0}, {6}, DType::Int64).to(kGpu);
  // checked on the GPU, reported at the next synchronisation (here: item())
  CHECK_THROWS_WITH_AS(cross_entropy(x.narrow(1, 0, 4).to(kGpu), bad).item(), doctest::Contains("target 7 of sample 1"), Error);
  CHECK(std::isfinite(cross_entropy(x.narrow(1, 0, 4).to(kGpu), targets.to(kGpu)).item()));  // reported once
  // the same seed gives the same mask on both devices
  check_op_on_gpu("dropout", [](auto& v) { Generator g(5); return dropout(v[0], 0.4, true, &g); }, {random({8, 9}, 83)});
  Tensor logits = random({20, 7}, 84);
  Tensor labels = randint(0, 7, {20});
  CHECK(topk_correct(logits.to(kGpu), labels.to(kGpu), {1, 5}) == topk_correct(logits, labels, {1, 5}));
}

TEST_CASE("cuda ops: symmetric eigendecomposition on cuSOLVER, every solver" * doctest::skip(!has_device())) {
  for (int64_t n : {8, 40}) {
    Tensor a = random({5, n, n}, 90 + uint64_t(n));
    Tensor sigma = div(matmul(a, a.transpose(1, 2)), double(n));
    SymEig cpu = symeig_descending(sigma);
    for (const char* solver : {"", "jacobi", "batched", "loop"}) {
      if (std::string(solver) == "jacobi" && n > 32) continue;
      INFO("n = " << n << ", solver '" << solver << "'");
      setenv("DSVD_CUDA_EIG", solver, 1);
      SymEig gpu = symeig_descending(sigma.to(kGpu));
      CHECK_CLOSE(gpu.values, cpu.values, 1e-10, 1e-9);
      // eigenvectors up to sign: compare V diag(λ) Vᵀ and |V|
      CHECK_CLOSE(abs(gpu.vectors), abs(cpu.vectors), 1e-7, 1e-6);
      Tensor rebuilt = matmul(mul(gpu.vectors, gpu.values.unsqueeze(1)), gpu.vectors.transpose(1, 2));
      CHECK_CLOSE(rebuilt, sigma, 1e-10, 1e-9);
    }
    unsetenv("DSVD_CUDA_EIG");
  }
  // A NaN input is refused as on the CPU, by a check the host reads at its next wait for the
  // device (the decomposition itself does not wait): here the read of a value.
  for (const char* solver : {"jacobi", "batched"}) {
    INFO("solver " << solver);
    setenv("DSVD_CUDA_EIG", solver, 1);
    Tensor bad = stack({eye(4, DType::Float64), eye(4, DType::Float64)});
    bad.data<double>()[16 + 5] = NAN;
    CHECK_THROWS_WITH_AS(sum(symeig_descending(bad.to(kGpu)).values).item(), doctest::Contains("sample 1 holds NaN or Inf"),
                         Error);
    CHECK(sum(symeig_descending(eye(4, DType::Float64).unsqueeze(0).to(kGpu)).values).item() == 4.0);  // nothing left over
  }
  unsetenv("DSVD_CUDA_EIG");
}

TEST_CASE("cuda ops: every matrix square root rule, forward and backward" * doctest::skip(!has_device())) {
  // A well-separated spectrum, so every rule (Taylor included) is accurate and the eigenvectors'
  // signs do not matter (the outputs and gradients are sign-invariant).
  Tensor q = random({3, 6, 6}, 100);
  Tensor basis = symeig_descending(add(q, q.transpose(1, 2))).vectors;
  Tensor spectrum = from_vector({4.0, 2.5, 1.6, 1.0, 0.7, 0.45, 3.0, 2.0, 1.3, 0.9, 0.6, 0.4, 5.0, 3.1, 2.2, 1.5, 1.1, 0.8},
                                {3, 6}, DType::Float64);
  Tensor sigma = matmul(mul(basis, spectrum.unsqueeze(1)), basis.transpose(1, 2));
  for (SqrtMethod m : all_sqrt_methods()) {
    MatrixSqrtOptions o;
    o.method = m;
    check_op_on_gpu(sqrt_method_name(m), [o](auto& v) { return sqrtm(add(v[0], v[0].transpose(1, 2)), o); },
                    {div(sigma, 2.0)}, 1e-9, 1e-7);
  }
  // The smallest signed eigenvalue (a strided view on the GPU) and the indefinite check agree.
  Tensor indefinite = from_vector({1, 0, 0, 0, -1, 0, 0, 0, 0.5}, {1, 3, 3}, DType::Float64);
  SymEig on_cpu = symeig_descending(indefinite), on_gpu = symeig_descending(indefinite.to(kGpu));
  CHECK(to_vector(on_gpu.smallest) == to_vector(on_cpu.smallest));
  CHECK(indefinite_samples(on_gpu.values, on_gpu.smallest) == indefinite_samples(on_cpu.values, on_cpu.smallest));
  CHECK(indefinite_samples(on_gpu.values, on_gpu.smallest).size() == 1);
  CovariancePoolingOptions co;
  check_op_on_gpu("covariance pooling svd-pade, float32 features", [co](auto& v) { return covariance_sqrt_pooling(v[0], co); },
                  {relu(random({2, 6, 4, 5}, 101, DType::Float32))}, 1e-5, 1e-4);
}

TEST_CASE("cuda ops: the overflow repairs count and replace on the GPU as on the CPU, read only when asked" *
          doctest::skip(!has_device())) {
  // Σ = diag(3, 2, 2, 0, 0): the ties 2 = 2 and ε = ε make 4 infinite entries of K̃ (docs/matrix-functions.md §8
  // item 7): +inf for Original and TopN, −inf for Padé; NaN stays NaN in the batch-wide extreme.
  Tensor sigma = diag_embed(from_vector({3, 2, 2, 0, 0}, {1, 5}));
  Tensor g = triu(ones({1, 5, 5}, DType::Float64));
  for (SqrtMethod m : {SqrtMethod::Original, SqrtMethod::TopN, SqrtMethod::Pade, SqrtMethod::Trunc}) {
    CAPTURE(std::string(sqrt_method_name(m)));
    std::map<std::string, int64_t> counts[2];
    std::vector<double> grads[2];
    double max_k[2];
    for (int on_gpu = 0; on_gpu < 2; ++on_gpu) {
      MatrixSqrtOptions o;
      o.method = m;
      o.report = std::make_shared<MatfnReport>();
      Tensor s = (on_gpu ? sigma.to(kGpu) : sigma.clone()).requires_grad_();
      sqrtm(s, o).backward(on_gpu ? g.to(kGpu) : g);
      counts[on_gpu] = o.report->repairs.read();
      grads[on_gpu] = to_vector(s.grad());
      max_k[on_gpu] = o.report->max_abs_k();
    }
    CHECK(counts[1] == counts[0]);
    CHECK(test::compare_values(grads[1], grads[0], 1e-9, 1e-7) == "");
    CHECK(max_k[1] == doctest::Approx(max_k[0]).epsilon(1e-9));
  }
  // The kernels directly: +inf -> the largest other entry, counted; with a NaN present -> NaN.
  for (bool with_nan : {false, true}) {
    Tensor t = from_vector({1.0, INFINITY, -2.0, INFINITY, with_nan ? NAN : 5.0}, {5}).to(kGpu);
    RepairCounts c;
    repair_infinities(t, "t", &c);
    auto v = to_vector(t);
    CHECK(c.get("t.+inf") == 2);
    CHECK(c.get("t.-inf") == 0);
    if (with_nan) CHECK((std::isnan(v[1]) && std::isnan(v[3])));
    else CHECK((v[1] == 5.0 && v[3] == 5.0));
  }
}

TEST_CASE("cuda ops: the inverse square root, both methods, as on the CPU" * doctest::skip(!has_device())) {
  Tensor a = random({3, 5, 5}, 211);
  Tensor spd = add(matmul(a, a.transpose(1, 2)), mul(eye(5, DType::Float64), 0.5));
  for (InverseSqrtMethod m : {InverseSqrtMethod::MpaLyaInv, InverseSqrtMethod::Eig}) {
    InverseSqrtOptions o;
    o.method = m;
    check_op_on_gpu(inverse_sqrt_method_name(m), [o](auto& v) { return inverse_sqrtm(v[0], o); }, {spd}, 1e-9, 1e-7);
  }
}

// MTP-Lya's and MPA-Lya's forwards and the Lyapunov backward as one kernel each (ops/kernels/linalg.h) at the
// size the fast square roots' paper times (64 matrices 48×48), and at n = 64 in float64 (the
// most shared memory it takes): against the CPU, fused and with DSVD_FUSED_FAST_SQRT=0 (the
// separate products and solve), and the inverse square root likewise.
TEST_CASE("cuda ops: MTP-Lya, MPA-Lya and its inverse fused into one kernel per pass, as on the CPU" * doctest::skip(!has_device())) {
  for (int64_t n : {48, 64}) {
    INFO("n = " << n);
    Tensor x = random({n == 48 ? 64 : 4, n, 2 * n}, 230 + uint64_t(n));
    Tensor spd = add(div(matmul(x, x.transpose(1, 2)), double(2 * n)), mul(eye(n, DType::Float64), 0.1));
    CHECK(fused_fast_sqrt(spd.to(kGpu)));
    CHECK_FALSE(fused_fast_sqrt(spd));  // the CPU runs the separate ops
    MatrixSqrtOptions o;
    o.method = SqrtMethod::MpaLya;
    InverseSqrtOptions io;
    io.method = InverseSqrtMethod::MpaLyaInv;
    for (const char* fused : {"1", "0"}) {
      INFO("DSVD_FUSED_FAST_SQRT=" << fused);
      setenv("DSVD_FUSED_FAST_SQRT", fused, 1);
      check_op_on_gpu("mpa-lya", [o](auto& v) { return sqrtm(v[0], o); }, {spd}, 1e-9, 1e-7);
      MatrixSqrtOptions mtp;
      mtp.method = SqrtMethod::MtpLya;
      check_op_on_gpu("mtp-lya", [mtp](auto& v) { return sqrtm(v[0], mtp); }, {spd}, 1e-9, 1e-7);
      check_op_on_gpu("mpa-lya-inv", [io](auto& v) { return inverse_sqrtm(v[0], io); }, {spd}, 1e-9, 1e-7);
      if (n == 48) {
        NoTf32 exact;
        check_op_on_gpu("mpa-lya float32", [o](auto& v) { return sqrtm(v[0], o); }, {spd.to(DType::Float32)}, 1e-3, 1e-3);
      }
    }
    unsetenv("DSVD_FUSED_FAST_SQRT");
  }
}

TEST_CASE("cuda ops: solve on cuBLAS's batched LU, and a singular sample named" * doctest::skip(!has_device())) {
  Tensor a = add(random({4, 5, 5}, 102), mul(eye(5, DType::Float64), 4.0));
  check_op_on_gpu("solve", [](auto& v) { return solve(v[0], v[1]); }, {a, random({4, 5, 3}, 103)});
  {
    NoTf32 exact;
    check_op_on_gpu("solve float32", [](auto& v) { return solve(v[0], v[1]); },
                    {a.to(DType::Float32), random({4, 5, 3}, 104, DType::Float32)}, 1e-4, 1e-4);
  }
  Tensor singular = cat({eye(3, DType::Float64).unsqueeze(0), zeros({1, 3, 3}, DType::Float64)}, 0).to(kGpu);
  // Found on the device, raised at the next read (the solve itself does not wait).
  CHECK_THROWS_WITH_AS(sum(solve(singular, ones({2, 3, 1}, DType::Float64).to(kGpu))).item(),
                       doctest::Contains("sample 1 is singular"), Error);
  CHECK(sum(solve(eye(3, DType::Float64).unsqueeze(0).to(kGpu), ones({1, 3, 1}, DType::Float64).to(kGpu))).item() == 3.0);
}

TEST_CASE("cuda ops: a ResNet trains on the GPU as on the CPU (one SGD step, same weights after)" * doctest::skip(!has_device())) {
  // The GPU's images NCHW, then channels-last (its activations channels-last through the network).
  for (const MemoryFormat format : {MemoryFormat::Contiguous, MemoryFormat::ChannelsLast})
  for (const char* head : {"gap", "svd-pade"}) {
    INFO("head " << head << ", GPU images " << memory_format_name(format));
    auto [cpu_model, gpu_model] = twin_resnets(head);
    nn::SgdOptions so;
    so.lr = 0.05;
    so.momentum = 0.9;
    so.weight_decay = 1e-4;
    nn::Sgd cpu_opt(cpu_model->named_parameters(), so), gpu_opt(gpu_model->named_parameters(), so);
    Tensor x = random({4, 3, 16, 16}, 110, DType::Float32);
    Tensor y = from_vector({0, 1, 4, 2}, {4}, DType::Int64);
    NoTf32 off;
    for (int step = 0; step < 2; ++step) {
      cross_entropy((*cpu_model)(x), y).backward();
      cross_entropy((*gpu_model)(x.to(kGpu).contiguous(format)), y.to(kGpu)).backward();
      cpu_opt.step();
      gpu_opt.step();
      cpu_opt.zero_grad();
      gpu_opt.zero_grad();
    }
    auto cpu_state = cpu_model->state_dict(), gpu_state = gpu_model->state_dict();
    REQUIRE(cpu_state.size() == gpu_state.size());
    for (size_t i = 0; i < cpu_state.size(); ++i) {
      INFO(cpu_state[i].first);
      CHECK(gpu_state[i].second.device() == kGpu);
      CHECK(gpu_state[i].second.is_contiguous());  // parameters keep NCHW
      CHECK_CLOSE(gpu_state[i].second, cpu_state[i].second, 2e-4, 2e-3);
    }
  }
}

TEST_CASE("cuda ops: bfloat16 and float16 ops (cuDNN, cuBLAS, element-wise natively; the rest widened) as on the CPU" *
          doctest::skip(!has_device())) {
  // The CPU computes 16-bit ops in float32 and rounds once; the GPU's tensor cores accumulate in
  // float32 in another order: the two agree within two roundings of the 16-bit dtype.
  const Conv2dOptions strided{{2, 1}, {1, 1}, {1, 1}, 1};
  for (DType dtype : {DType::BFloat16, DType::Float16}) {
    INFO(dtype_name(dtype));
    const double rtol = 2.01 * machine_epsilon(dtype);
    auto rounded = [&](const Shape& s, uint64_t seed) { return random(s, seed, DType::Float32).to(dtype); };
    check_op_on_gpu("conv2d", [&](const auto& v) { return conv2d(v[0], v[1], v[2], strided); },
                    {rounded({2, 3, 9, 8}, 201), rounded({5, 3, 3, 3}, 202), rounded({5}, 203)}, 1e-2, rtol);
    check_op_on_gpu("matmul", [](const auto& v) { return matmul(v[0], v[1]); },
                    {rounded({3, 7, 40}, 204), rounded({3, 40, 6}, 205)}, 1e-2, rtol);
    check_op_on_gpu("linear", [](const auto& v) { return linear(v[0], v[1], v[2]); },
                    {rounded({7, 40}, 206), rounded({6, 40}, 207), rounded({6}, 208)}, 1e-2, rtol);
    check_op_on_gpu("relu + max_pool2d", [](const auto& v) { return max_pool2d(relu(v[0]), {{3, 3}, {2, 2}}); },
                    {rounded({2, 3, 9, 8}, 209)}, 1e-2, rtol);
    check_op_on_gpu("batch_norm (float32 parameters)",
                    [](const auto& v) { return batch_norm(v[0], v[1], v[2], Tensor(), Tensor(), true, 0.1, 1e-5); },
                    {rounded({4, 3, 5, 5}, 210), random({3}, 211, DType::Float32), random({3}, 212, DType::Float32)},
                    1e-2, rtol);
    // Element-wise, native on the GPU: float arithmetic rounded once gives the CPU's bits, forward
    // and backward; exp and sigmoid within two roundings (the two math libraries' float results may
    // differ in their last bit).
    check_op_on_gpu("add, mul, sub with a number", [](const auto& v) { return sub(mul(add(v[0], v[1]), v[0]), 0.3); },
                    {rounded({4, 9}, 214), rounded({4, 9}, 215)}, 0, 0);
    check_op_on_gpu("relu, where, gt", [](const auto& v) { return where(gt(v[0], v[1]), relu(v[0]), mul(v[1], 2.5)); },
                    {rounded({4, 9}, 216), rounded({4, 9}, 217)}, 0, 0);
    check_op_on_gpu("exp, sigmoid", [](const auto& v) { return add(exp(v[0]), sigmoid(v[1])); },
                    {rounded({4, 9}, 218), rounded({4, 9}, 219)}, 1e-6, rtol);
  }
  Tensor x = random({5, 7}, 213, DType::Float32);
  CHECK(to_vector(x.to(DType::BFloat16).to(kGpu).to(DType::Float32)) == to_vector(x.to(DType::BFloat16)));
  CHECK(to_vector(x.to(kGpu).to(DType::Float16).to(Device::cpu())) == to_vector(x.to(DType::Float16)));
}

TEST_CASE("cuda ops: a ResNet step under bf16 autocast on the GPU follows the CPU's" * doctest::skip(!has_device())) {
  for (const char* head : {"gap", "svd-pade"}) {
    INFO("head " << head);
    auto [cpu_model, gpu_model] = twin_resnets(head);
    Tensor x = random({4, 3, 16, 16}, 120, DType::Float32);
    Tensor y = from_vector({0, 1, 4, 2}, {4}, DType::Int64);
    Tensor cpu_loss, gpu_loss;
    {
      AutocastScope amp(DType::BFloat16);
      cpu_loss = cross_entropy((*cpu_model)(x), y);
      gpu_loss = cross_entropy((*gpu_model)(x.to(kGpu)), y.to(kGpu));
    }
    CHECK(gpu_loss.dtype() == DType::Float32);
    CHECK(std::fabs(gpu_loss.item() - cpu_loss.item()) <= 0.05 * std::fabs(cpu_loss.item()));
    cpu_loss.backward();
    gpu_loss.backward();
    auto cpu_params = cpu_model->named_parameters(), gpu_params = gpu_model->named_parameters();
    for (size_t i = 0; i < cpu_params.size(); ++i) {
      INFO(cpu_params[i].first);
      CHECK(gpu_params[i].second.grad().dtype() == DType::Float32);
      const std::vector<double> a = to_vector(gpu_params[i].second.grad()), e = to_vector(cpu_params[i].second.grad());
      double scale = 0;
      for (double v : e) scale = std::max(scale, std::fabs(v));
      CHECK_MESSAGE(test::compare_values(a, e, 0.1 * scale + 1e-6, 0) == "", test::compare_values(a, e, 0.1 * scale + 1e-6, 0));
    }
  }
}

// Channels-last (tensor/memory_format.h): cuDNN's convolutions and batch norm and the pooling
// kernels keep a channels-last input so; the results equal the CPU's NCHW ones, and so do the
// gradients (through contiguous(ChannelsLast)'s backward).
TEST_CASE("cuda ops: channels-last convolutions, batch norm and pooling as the CPU's NCHW ones" * doctest::skip(!has_device())) {
  // The op on channels-last GPU tensors, checked to stay channels-last; on NCHW on the CPU.
  auto channels_last = [](auto op) {
    return [op](const std::vector<Tensor>& v) {
      std::vector<Tensor> in = v;
      const bool gpu = v[0].device().is_cuda();
      if (gpu) in[0] = v[0].contiguous(MemoryFormat::ChannelsLast);
      Tensor y = op(in);
      if (gpu) CHECK(memory_format_of(y) == MemoryFormat::ChannelsLast);
      return y;
    };
  };
  const Conv2dOptions strided{{2, 1}, {1, 1}, {1, 1}, 1}, grouped{{1, 1}, {1, 0}, {1, 1}, 2};
  auto conv = [](Conv2dOptions o) { return [o](const std::vector<Tensor>& v) { return conv2d(v[0], v[1], v[2], o); }; };
  for (const char* api : {"legacy", "graph"}) {
    INFO("DSVD_CUDNN_API=" << api);
    setenv("DSVD_CUDNN_API", api, 1);
    check_op_on_gpu("conv2d f64, channels-last", channels_last(conv(strided)),
                    {random({2, 6, 9, 8}, 301), random({5, 6, 3, 3}, 302), random({5}, 303)}, 1e-10, 1e-9);
    NoTf32 off;
    check_op_on_gpu("conv2d f32, channels-last", channels_last(conv(strided)),
                    {random({2, 6, 9, 8}, 301, DType::Float32), random({5, 6, 3, 3}, 302, DType::Float32),
                     random({5}, 303, DType::Float32)}, 1e-4, 1e-4);
    check_op_on_gpu("conv2d f32 grouped, channels-last", channels_last(conv(grouped)),
                    {random({2, 8, 7, 7}, 304, DType::Float32), random({6, 4, 3, 1}, 305, DType::Float32),
                     random({6}, 306, DType::Float32)}, 1e-4, 1e-4);
    for (DType dtype : {DType::BFloat16, DType::Float16}) {
      auto rounded = [&](const Shape& s, uint64_t seed) { return random(s, seed, DType::Float32).to(dtype); };
      check_op_on_gpu("conv2d 16-bit, channels-last", channels_last(conv(strided)),
                      {rounded({2, 16, 9, 8}, 307), rounded({8, 16, 3, 3}, 308), rounded({8}, 309)}, 1e-2,
                      2.01 * machine_epsilon(dtype));
    }
  }
  unsetenv("DSVD_CUDNN_API");
  Tensor x = add(mul(random({4, 6, 5, 7}, 310), 2.0), 0.5), w = random({6}, 311), b = random({6}, 312);
  check_op_on_gpu("batch_norm training, channels-last",
                  channels_last([](auto& v) { return batch_norm(v[0], v[1], v[2], Tensor(), Tensor(), true, 0.1, 1e-5); }),
                  {x, w, b}, 1e-9, 1e-8);
  Tensor rm = random({6}, 313), rv = add(abs(random({6}, 314)), 0.5);
  check_op_on_gpu("batch_norm evaluation, channels-last", channels_last([&](auto& v) {
                    const Device d = v[0].device();
                    return batch_norm(v[0], v[1], v[2], rm.to(d), rv.to(d), false, 0.1, 1e-5);
                  }),
                  {x, w, b});
  check_op_on_gpu("batch_norm bf16, channels-last",
                  channels_last([](auto& v) { return batch_norm(v[0], v[1], v[2], Tensor(), Tensor(), true, 0.1, 1e-5); }),
                  {x.to(DType::Float32).to(DType::BFloat16), w.to(DType::Float32), b.to(DType::Float32)}, 1e-2,
                  2.01 * machine_epsilon(DType::BFloat16));
  Pool2dOptions mp;
  mp.kernel = {3, 3};
  mp.stride = {2, 2};
  mp.padding = {1, 1};
  Tensor p = random({2, 5, 9, 10}, 315);
  check_op_on_gpu("max_pool2d, channels-last", channels_last([mp](auto& v) { return max_pool2d(v[0], mp); }), {p});
  check_op_on_gpu("max_pool2d bf16, channels-last", channels_last([mp](auto& v) { return max_pool2d(v[0], mp); }),
                  {p.to(DType::BFloat16)}, 1e-2, 2.01 * machine_epsilon(DType::BFloat16));
  Pool2dOptions huge;  // 272 window positions: int64 argmax
  huge.kernel = {17, 16};
  huge.stride = {3, 4};
  check_op_on_gpu("max_pool2d large window, channels-last", channels_last([huge](auto& v) { return max_pool2d(v[0], huge); }),
                  {random({1, 3, 22, 24}, 316)});
  Pool2dOptions ap = mp;
  ap.count_include_pad = false;
  check_op_on_gpu("avg_pool2d, channels-last", channels_last([ap](auto& v) { return avg_pool2d(v[0], ap); }), {p});
  check_op_on_gpu("relu + add, channels-last", channels_last([](auto& v) { return relu(add(v[0], v[1])); }),
                  {p, random({2, 5, 9, 10}, 317)}, 0, 0);
}

TEST_CASE("cuda ops: the many-parameter SGD update (a few launches) follows the CPU's per-parameter updates" *
          doctest::skip(!has_device())) {
  // 80 parameters (more than one launch's table), both float dtypes, odd sizes, with and without
  // momentum buffers, first or not; the learning rate and the skip flag read from device memory.
  Generator gen(31);
  std::vector<SgdParamUpdate> gpu, cpu;
  for (int k = 0; k < 80; ++k) {
    const DType dt = k % 3 == 0 ? DType::Float64 : DType::Float32;
    const int64_t n = 1 + (k * 53) % 997;
    Tensor w = randn({n}, dt, &gen), g = randn({n}, dt, &gen), b = randn({n}, dt, &gen);
    const bool with_buffer = k % 4 != 0;
    SgdParamUpdate u{w, g, with_buffer ? b : Tensor(), 1.0 + 0.5 * (k % 3), 1e-3 * (k % 2), k % 5 == 0};
    cpu.push_back({w.clone(), g, with_buffer ? b.clone() : Tensor(), u.lr_factor, u.weight_decay, u.first});
    gpu.push_back({w.to(kGpu), g.to(kGpu), with_buffer ? b.to(kGpu) : Tensor(), u.lr_factor, u.weight_decay, u.first});
  }
  SgdDeviceScalars on_cpu, on_gpu;
  on_cpu.lr = full({}, 0.05, DType::Float64);
  on_gpu.lr = on_cpu.lr.to(kGpu);
  on_gpu.skip = full({}, 0.0, DType::Float64, kGpu);
  sgd_update_many_(cpu, on_cpu, 0.9, 0.1, true);
  sgd_update_many_(gpu, on_gpu, 0.9, 0.1, true);
  for (size_t k = 0; k < gpu.size(); ++k) {
    INFO("parameter " << k);
    const double tol = gpu[k].param.dtype() == DType::Float64 ? 1e-14 : 1e-6;  // FMA contraction on the GPU
    CHECK_CLOSE(gpu[k].param, cpu[k].param, tol, tol);
    if (gpu[k].buffer.defined()) CHECK_CLOSE(gpu[k].buffer, cpu[k].buffer, tol, tol);
  }
  fill_(on_gpu.skip, 1.0);  // set: nothing moves
  const std::vector<double> before = to_vector(gpu[41].param);
  sgd_update_many_(gpu, on_gpu, 0.9, 0.1, true);
  CHECK(to_vector(gpu[41].param) == before);
}

TEST_CASE("cuda ops: the gradient-list ops (squared norm, scaling, non-finite flag) as on the CPU" *
          doctest::skip(!has_device())) {
  // 150 tensors (more than two launches' tables), both float dtypes, odd sizes, one of 300001.
  Generator gen(41);
  std::vector<Tensor> cpu, gpu;
  for (int k = 0; k < 150; ++k) {
    const DType dt = k % 4 == 0 ? DType::Float64 : DType::Float32;
    Tensor t = randn({k == 77 ? 300001 : 1 + (k * 61) % 4099}, dt, &gen);
    cpu.push_back(t);
    gpu.push_back(t.to(kGpu));
  }
  const double norm_cpu = sum_of_squares_many(cpu).item(), norm_gpu = sum_of_squares_many(gpu).item();
  CHECK(std::abs(norm_gpu - norm_cpu) <= 1e-12 * norm_cpu);
  CHECK(sum_of_squares_many(gpu).item() == norm_gpu);  // the same order on every run
  const Tensor flag = zeros({}, DType::Float64, kGpu);
  scale_many_(cpu, full({}, 0.3, DType::Float64));
  scale_many_(gpu, full({}, 0.3, DType::Float64, kGpu), flag);
  for (size_t k = 0; k < gpu.size(); ++k) {
    INFO("tensor " << k);
    CHECK(to_vector(gpu[k].to(Device::cpu())) == to_vector(cpu[k]));  // one rounded product each
  }
  CHECK(flag.item() == 0.0);
  Tensor bad = from_vector({1, std::numeric_limits<double>::infinity()}, {2}, DType::Float32).to(kGpu);
  scale_many_({gpu[3], bad}, full({}, 1.0, DType::Float64, kGpu), flag);
  CHECK(flag.item() == 1.0);
}

TEST_CASE("cuda ops: the caching allocator reuses blocks and reports peaks; out of memory is an Error" * doctest::skip(!has_device())) {
  empty_cache(Device::cuda());
  reset_peak_memory_stats(Device::cuda());
  auto before = memory_stats(Device::cuda());
  {
    Tensor a = empty({1 << 20}, DType::Float32, kGpu);  // 4 MiB
    auto mid = memory_stats(Device::cuda());
    CHECK(mid.allocated - before.allocated == size_t(4) << 20);
  }
  auto after_free = memory_stats(Device::cuda());
  CHECK(after_free.allocated == before.allocated);
  CHECK(after_free.peak_allocated >= before.allocated + (size_t(4) << 20));
  const int64_t mallocs = after_free.driver_mallocs;
  { Tensor b = empty({1 << 20}, DType::Float32, kGpu); }
  CHECK(memory_stats(Device::cuda()).driver_mallocs == mallocs);  // the freed block came back from the cache
  CHECK(memory_stats(Device::cuda()).cache_hits > after_free.cache_hits);
  CHECK_THROWS_WITH_AS(empty({int64_t(1) << 40}, DType::Float64, kGpu), doctest::Contains("out of GPU memory"), Error);
}
