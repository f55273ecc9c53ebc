// conv2d against a naive direct convolution (every stride/padding/dilation/groups combination
// below), and float64 gradchecks of input, weight and bias.
#include "ops/cpu/conv2d_kernels.h"
#include "ops/cpu/conv2d_onednn.h"
#include "ops/nn_ops.h"
#include "tests/test_util.h"

using namespace dsvd;
using test::Fn;

namespace {

std::vector<double> naive_conv(const Tensor& x, const Tensor& w, const Tensor& b, const Conv2dOptions& o) {
  auto X = to_vector(x), Wt = to_vector(w);
  std::vector<double> B = b.defined() ? to_vector(b) : std::vector<double>();
  int64_t N = x.size(0), C = x.size(1), H = x.size(2), Wd = x.size(3), O = w.size(0), kh = w.size(2), kw = w.size(3);
  int64_t cg = C / o.groups, og = O / o.groups;
  int64_t OH = (H + 2 * o.padding[0] - o.dilation[0] * (kh - 1) - 1) / o.stride[0] + 1;
  int64_t OW = (Wd + 2 * o.padding[1] - o.dilation[1] * (kw - 1) - 1) / o.stride[1] + 1;
  std::vector<double> out;
  for (int64_t n = 0; n < N; ++n)
    for (int64_t oc = 0; oc < O; ++oc)
      for (int64_t oy = 0; oy < OH; ++oy)
        for (int64_t ox = 0; ox < OW; ++ox) {
          double s = B.empty() ? 0 : B[size_t(oc)];
          int64_t grp = oc / og;
          for (int64_t c = 0; c < cg; ++c)
            for (int64_t i = 0; i < kh; ++i)
              for (int64_t j = 0; j < kw; ++j) {
                int64_t iy = oy * o.stride[0] - o.padding[0] + i * o.dilation[0];
                int64_t ix = ox * o.stride[1] - o.padding[1] + j * o.dilation[1];
                if (iy < 0 || iy >= H || ix < 0 || ix >= Wd) continue;
                s += X[size_t(((n * C + grp * cg + c) * H + iy) * Wd + ix)] * Wt[size_t(((oc * cg + c) * kh + i) * kw + j)];
              }
          out.push_back(s);
        }
  return out;
}

}  // namespace

TEST_CASE("conv2d: matches the naive direct convolution") {
  Generator g(51);
  struct Case {
    Shape x, w;
    Conv2dOptions o;
    bool bias;
  };
  const Case cases[] = {
      {{2, 3, 9, 8}, {4, 3, 3, 3}, {{1, 1}, {1, 1}, {1, 1}, 1}, true},
      {{2, 4, 11, 11}, {6, 2, 3, 3}, {{2, 2}, {1, 1}, {1, 1}, 2}, false},   // groups 2, stride 2
      {{1, 3, 12, 10}, {5, 3, 3, 2}, {{1, 2}, {2, 0}, {2, 1}, 1}, true},    // dilation, asymmetric
      {{3, 6, 5, 5}, {6, 1, 3, 3}, {{1, 1}, {1, 1}, {1, 1}, 6}, true},      // depthwise
      {{2, 8, 7, 7}, {4, 8, 1, 1}, {{1, 1}, {0, 0}, {1, 1}, 1}, false},     // pointwise: no im2col
      {{1, 3, 224, 224}, {64, 3, 11, 11}, {{4, 4}, {2, 2}, {1, 1}, 1}, true},  // AlexNet conv1
      {{2, 8, 50, 50}, {6, 8, 1, 1}, {{1, 1}, {0, 0}, {1, 1}, 1}, true},        // pointwise, one sample per GEMM
      {{2, 4, 48, 48}, {4, 2, 3, 3}, {{1, 1}, {1, 1}, {1, 1}, 2}, false},       // 3x3, one sample per GEMM
  };
  for (const Case& c : cases) {
    CAPTURE(shape_str(c.x));
    for (DType dt : {DType::Float64, DType::Float32}) {
      Tensor x = randn(c.x, dt, &g), w = randn(c.w, dt, &g), b = c.bias ? randn({c.w[0]}, dt, &g) : Tensor();
      double tol = dt == DType::Float64 ? 1e-12 : 1e-4;
      CHECK_CLOSE(conv2d(x, w, b, c.o), naive_conv(x, w, b, c.o), tol, tol);
    }
  }
  // A non-contiguous input is read correctly.
  Tensor xt = randn({2, 3, 8, 9}, DType::Float64, &g).transpose(2, 3);
  Tensor w = randn({2, 3, 3, 3}, DType::Float64, &g);
  CHECK_CLOSE(conv2d(xt, w), naive_conv(xt, w, Tensor(), {}), 1e-12, 1e-12);
  CHECK_THROWS_WITH_AS(conv2d(randn({1, 3, 5, 5}), randn({2, 4, 3, 3})), doctest::Contains("expects 4 input channels"), Error);
  CHECK_THROWS_WITH_AS(conv2d(randn({1, 3, 2, 2}), randn({2, 3, 3, 3})), doctest::Contains("too small"), Error);
  CHECK_THROWS_WITH_AS(conv2d(randn({1, 3, 5, 5}), randn({2, 3, 3, 3}), Tensor(), {{0, 1}}), doctest::Contains("stride"), Error);
}

TEST_CASE("conv2d: gradcheck of input, weight and bias") {
  Generator g(52);
  const Conv2dOptions options[] = {{{1, 1}, {1, 1}, {1, 1}, 1}, {{2, 1}, {0, 1}, {1, 2}, 1}, {{1, 1}, {1, 1}, {1, 1}, 2},
                                   {{1, 1}, {0, 0}, {1, 1}, 1}};
  for (const auto& o : options) {
    Tensor x = randn({2, 4, 6, 5}, DType::Float64, &g);
    Tensor w = randn({4, 4 / o.groups, o.padding[0] == 0 && o.stride[0] == 1 ? 1 : 3, 3 - 2 * (o.padding[1] == 0 && o.stride[0] == 1)}, DType::Float64, &g);
    Tensor b = randn({4}, DType::Float64, &g);
    CHECK_GRADCHECK(Fn([o](auto& in) { return conv2d(in[0], in[1], in[2], o); }), {x, w, b});
  }
  // One sample: the GEMMs write straight into the output (pointwise: no column matrix at all).
  Tensor x1 = randn({1, 3, 4, 5}, DType::Float64, &g);
  CHECK_GRADCHECK(Fn([](auto& in) { return conv2d(in[0], in[1], in[2]); }),
                  {x1, randn({2, 3, 1, 1}, DType::Float64, &g), randn({2}, DType::Float64, &g)});
  CHECK_GRADCHECK(Fn([](auto& in) { return conv2d(in[0], in[1], in[2], {{1, 1}, {1, 1}}); }),
                  {x1, randn({2, 3, 3, 3}, DType::Float64, &g), randn({2}, DType::Float64, &g)});
}

TEST_CASE("conv2d: oneDNN's kernels equal the im2col reference, forward and both backwards") {
  if (!cpu::onednn_available()) {
    MESSAGE("dsvd built without oneDNN: skipped");
    return;
  }
  struct Case {
    int64_t batch, in_c, h, w, out_c, kh, kw, stride, pad, dilation, groups;
    bool bias;
  };
  const Case cases[] = {
      {2, 8, 9, 9, 16, 3, 3, 1, 1, 1, 1, true},     // 3x3, stride 1
      {2, 8, 10, 10, 16, 3, 3, 2, 1, 1, 1, false},  // stride 2
      {1, 6, 7, 5, 4, 3, 3, 1, 0, 1, 1, true},      // batch 1, odd sizes, no padding
      {2, 16, 8, 8, 32, 1, 1, 1, 0, 1, 1, false},   // 1x1
      {2, 16, 8, 8, 32, 1, 1, 2, 0, 1, 1, false},   // 1x1 stride 2 (ResNet's downsample)
      {2, 3, 35, 35, 8, 11, 11, 4, 2, 1, 1, true},  // AlexNet's first layer
      {2, 8, 13, 13, 12, 5, 5, 1, 2, 1, 1, true},   // 5x5
      {2, 8, 11, 11, 8, 3, 3, 1, 2, 2, 1, true},    // dilation 2
      {2, 8, 9, 9, 12, 3, 3, 1, 1, 1, 4, true},     // groups 4
      {2, 8, 9, 9, 8, 3, 3, 2, 1, 1, 8, false},     // depthwise
      {3, 5, 6, 9, 7, 2, 3, 2, 1, 1, 1, true},      // uneven kernel, output rows padded on one side
      {5, 4, 32, 32, 8, 3, 3, 1, 1, 1, 1, true},    // 1024 positions: weights' gradient in chunks 2, 2, 1
  };
  Generator gen(41);
  int workspaces_read = 0;
  for (const Case& c : cases) {
    CAPTURE(c.in_c);
    CAPTURE(c.kh);
    CAPTURE(c.stride);
    CAPTURE(c.groups);
    kernels::Conv2dGeometry g{c.batch, c.in_c, c.h, c.w, c.out_c, c.kh, c.kw, c.stride, c.stride, c.pad, c.pad,
                              c.dilation, c.dilation, c.groups, 0, 0};
    g.out_h = (g.height + 2 * g.pad_h - g.dilation_h * (g.kernel_h - 1) - 1) / g.stride_h + 1;
    g.out_w = (g.width + 2 * g.pad_w - g.dilation_w * (g.kernel_w - 1) - 1) / g.stride_w + 1;
    Tensor x = randn({c.batch, c.in_c, c.h, c.w}, DType::Float32, &gen);
    Tensor w = randn({c.out_c, c.in_c / c.groups, c.kh, c.kw}, DType::Float32, &gen);
    Tensor b = c.bias ? randn({c.out_c}, DType::Float32, &gen) : Tensor();
    Tensor dy = randn({c.batch, c.out_c, g.out_h, g.out_w}, DType::Float32, &gen);
    auto close = [](const Tensor& got, const Tensor& want) {
      const double scale = std::max(max(abs(want)).item(), 1.0);
      return max(abs(sub(got, want))).item() / scale;
    };
    Tensor y_ref = empty(dy.sizes()), y = empty(dy.sizes());
    cpu::im2col_conv2d_forward(g, x, w, b, y_ref);
    cpu::onednn_conv2d_forward(g, x, w, b, y);
    CHECK(close(y, y_ref) < 1e-5);
    Tensor dx_ref = empty(x.sizes()), dw_ref = empty(w.sizes()), db_ref = empty({c.out_c});
    Tensor dx = empty(x.sizes()), dw = empty(w.sizes()), db = empty({c.out_c});
    cpu::im2col_conv2d_backward(g, x, w, dy, dx_ref, dw_ref, db_ref);
    for (bool chunked : {true, false}) {
      CAPTURE(chunked);
      cpu::onednn_conv2d_backward(g, x, w, dy, dx, dw, db, chunked);
      CHECK(close(dx, dx_ref) < 1e-5);
      CHECK(close(dw, dw_ref) < 1e-5);
      CHECK(close(db, db_ref) < 1e-5);
      // Each gradient alone (the others not needed), as autograd asks when some inputs are frozen.
      Tensor dx_only = empty(x.sizes()), dw_only = empty(w.sizes()), db_only = empty({c.out_c});
      cpu::onednn_conv2d_backward(g, x, w, dy, dx_only, Tensor(), Tensor(), chunked);
      cpu::onednn_conv2d_backward(g, x, w, dy, Tensor(), dw_only, Tensor(), chunked);
      cpu::onednn_conv2d_backward(g, x, w, dy, Tensor(), Tensor(), db_only, chunked);
      CHECK(to_vector(dx_only) == to_vector(dx));
      CHECK(to_vector(dw_only) == to_vector(dw));
      CHECK(to_vector(db_only) == to_vector(db));
    }
    // The forward's blocked copy of x (its workspace), read by the weights' gradient instead of
    // converting x again: the same bits, chunked or not.
    Tensor workspace, y_ws = empty(dy.sizes());
    cpu::onednn_conv2d_forward(g, x, w, b, y_ws, &workspace);
    CHECK(to_vector(y_ws) == to_vector(y));
    if (workspace.defined()) CHECK(workspace.dtype() == DType::UInt8);
    for (bool chunked : {true, false}) {
      CAPTURE(chunked);
      Tensor dw_plain = empty(w.sizes()), dw_ws = empty(w.sizes()), dx_ws = empty(x.sizes());
      cpu::onednn_conv2d_backward(g, x, w, dy, Tensor(), dw_plain, Tensor(), chunked);
      cpu::onednn_conv2d_backward(g, x, w, dy, dx_ws, dw_ws, Tensor(), chunked, workspace);
      CHECK(to_vector(dw_ws) == to_vector(dw_plain));
      // A workspace that does not fit this geometry is ignored, not misread.
      Tensor wrong = empty({7}, DType::UInt8), dw_wrong = empty(w.sizes());
      cpu::onednn_conv2d_backward(g, x, w, dy, Tensor(), dw_wrong, Tensor(), chunked, wrong);
      CHECK(to_vector(dw_wrong) == to_vector(dw_plain));
      // And a fitting one is really read: zeros in its place give another gradient.
      if (workspace.defined()) {
        Tensor zeroed = zeros(workspace.sizes(), DType::UInt8), dw_zeroed = empty(w.sizes());
        cpu::onednn_conv2d_backward(g, x, w, dy, Tensor(), dw_zeroed, Tensor(), chunked, zeroed);
        workspaces_read += to_vector(dw_zeroed) != to_vector(dw_plain);
      }
    }
  }
  // Where the weights' gradient chose the forward's layout for x (6 of these 24 passes with
  // oneDNN 2.6; on ResNet-50's shapes nearly all), the forward's copy is read.
  CAPTURE(workspaces_read);
  CHECK(workspaces_read > 0);
  // float32 conv2d takes oneDNN unless DSVD_CPU_CONV=im2col; float64 always im2col (gradchecked).
  CHECK(cpu::cpu_conv_path(DType::Float64) == cpu::CpuConvPath::Im2col);
}

TEST_CASE("conv2d: the auto path gives pointwise convolutions on large planes to the GEMM, the rest to oneDNN") {
  if (!cpu::onednn_available()) {
    MESSAGE("dsvd built without oneDNN: skipped");
    return;
  }
  auto geometry = [](int64_t in_c, int64_t out_c, int64_t size, int64_t k, int64_t stride, int64_t groups) {
    kernels::Conv2dGeometry g{2, in_c, size, size, out_c, k, k, stride, stride, k / 2, k / 2, 1, 1, groups, 0, 0};
    g.out_h = (g.height + 2 * g.pad_h - (g.kernel_h - 1) - 1) / g.stride_h + 1;
    g.out_w = g.out_h;
    return g;
  };
  CHECK(cpu::gemm_for_pointwise(geometry(64, 256, 56, 1, 1, 1)));
  CHECK(cpu::gemm_for_pointwise(geometry(16, 8, 28, 1, 1, 1)));
  CHECK_FALSE(cpu::gemm_for_pointwise(geometry(512, 2048, 7, 1, 1, 1)));   // small plane: oneDNN
  CHECK_FALSE(cpu::gemm_for_pointwise(geometry(64, 256, 56, 1, 2, 1)));   // stride 2: oneDNN
  CHECK_FALSE(cpu::gemm_for_pointwise(geometry(64, 64, 56, 3, 1, 1)));    // 3x3: oneDNN
  CHECK_FALSE(cpu::gemm_for_pointwise(geometry(64, 64, 56, 1, 1, 2)));    // groups: oneDNN
  // Through the op: bit for bit the chosen path's kernels.
  const cpu::CpuConvPath before = cpu::cpu_conv_path(DType::Float32);
  cpu::set_cpu_conv_path(cpu::CpuConvPath::Auto);
  Generator gen(17);
  for (const auto& [g, gemm] : {std::pair{geometry(8, 16, 28, 1, 1, 1), true}, std::pair{geometry(8, 16, 28, 3, 1, 1), false}}) {
    CAPTURE(g.kernel_h);
    Tensor x = randn({g.batch, g.in_channels, g.height, g.width}, DType::Float32, &gen).requires_grad_();
    Tensor w = randn({g.out_channels, g.in_channels, g.kernel_h, g.kernel_w}, DType::Float32, &gen).requires_grad_();
    Tensor dy = randn({g.batch, g.out_channels, g.out_h, g.out_w}, DType::Float32, &gen);
    Tensor y = conv2d(x, w, Tensor(), {{1, 1}, {g.pad_h, g.pad_w}});
    y.backward(dy);
    Tensor y_ref = empty(y.sizes()), dx_ref = empty(x.sizes()), dw_ref = empty(w.sizes());
    if (gemm) {
      cpu::im2col_conv2d_forward(g, x.detach(), w.detach(), Tensor(), y_ref);
      cpu::im2col_conv2d_backward(g, x.detach(), w.detach(), dy, dx_ref, dw_ref, Tensor());
    } else {
      cpu::onednn_conv2d_forward(g, x.detach(), w.detach(), Tensor(), y_ref);
      cpu::onednn_conv2d_backward(g, x.detach(), w.detach(), dy, dx_ref, dw_ref, Tensor(), true);
    }
    CHECK(to_vector(y) == to_vector(y_ref));
    CHECK(to_vector(x.grad()) == to_vector(dx_ref));
    CHECK(to_vector(w.grad()) == to_vector(dw_ref));
  }
  cpu::set_cpu_conv_path(before);
}

TEST_CASE("conv2d: oneDNN's weights' gradient in chunks rounds like the im2col GEMM") {
  // Against a float64 reference, batch 64 at 16² (16,384 products per weight). Measured at batch
  // 128 (docs/cpu-performance.md): im2col 2.4–3.9e-7, oneDNN over the whole batch 0.9–2.8e-6,
  // in chunks of 2048 positions 2.4–6.9e-7.
  if (!cpu::onednn_available()) {
    MESSAGE("dsvd built without oneDNN: skipped");
    return;
  }
  Generator gen(7);
  kernels::Conv2dGeometry g{64, 32, 16, 16, 32, 3, 3, 1, 1, 1, 1, 1, 1, 1, 16, 16};
  Tensor x = relu(randn({64, 32, 16, 16}, DType::Float32, &gen));
  Tensor w = randn({32, 32, 3, 3}, DType::Float32, &gen);
  Tensor dy = randn({64, 32, 16, 16}, DType::Float32, &gen);
  Tensor reference = empty(w.sizes(), DType::Float64);
  cpu::im2col_conv2d_backward(g, x.to(DType::Float64), w.to(DType::Float64), dy.to(DType::Float64), Tensor(), reference,
                              Tensor());
  auto error = [&](const Tensor& dw) {
    Tensor d = sub(dw.to(DType::Float64), reference);
    return std::sqrt(sum(mul(d, d)).item() / sum(mul(reference, reference)).item());
  };
  Tensor im2col = empty(w.sizes()), chunked = empty(w.sizes()), whole = empty(w.sizes());
  cpu::im2col_conv2d_backward(g, x, w, dy, Tensor(), im2col, Tensor());
  cpu::onednn_conv2d_backward(g, x, w, dy, Tensor(), chunked, Tensor(), true);
  cpu::onednn_conv2d_backward(g, x, w, dy, Tensor(), whole, Tensor(), false);
  MESSAGE("relative error against float64: im2col " << error(im2col) << ", oneDNN in chunks " << error(chunked)
                                                       << ", oneDNN over the whole batch " << error(whole));
  CHECK(error(chunked) < 3 * error(im2col));
  CHECK(error(chunked) < 1e-6);
}

// The default run's network shapes (ResNet-18 at width 0.25 on 28² images, batch 64): channels of
// 16 and more take oneDNN's blocked AVX-512 kernels, which the small cases above may not reach,
// and a chain of layers checks that each backward reads its own layer's saved workspace. Every
// gradient of the chain on oneDNN and on im2col, both against the chain in float64.
TEST_CASE("conv2d: a chain at the default run's shapes has im2col's gradients on oneDNN, against float64") {
  if (!cpu::onednn_available()) {
    MESSAGE("dsvd built without oneDNN: skipped");
    return;
  }
  struct Layer {
    int64_t in_c, out_c, k, stride;
  };
  const Layer layers[] = {{16, 16, 3, 1}, {16, 32, 3, 2}, {32, 32, 3, 1}, {32, 64, 1, 2},
                          {64, 64, 3, 1}, {64, 128, 3, 2}, {128, 128, 3, 1}};
  Generator gen(23);
  const Tensor x0 = randn({64, 16, 28, 28}, DType::Float32, &gen);
  std::vector<Tensor> w0;
  for (const Layer& l : layers)
    w0.push_back(mul(randn({l.out_c, l.in_c, l.k, l.k}, DType::Float32, &gen), std::sqrt(2.0 / double(l.in_c * l.k * l.k))));
  const Tensor probe = randn({64, 128, 4, 4}, DType::Float32, &gen);
  // Gradients of Σ probe ⊙ chain(x) with respect to x and every weight, in `dtype`.
  auto gradients = [&](DType dtype) {
    Tensor x = x0.to(dtype).clone().requires_grad_();  // fresh leaves: gradients not shared between calls
    std::vector<Tensor> w;
    Tensor h = x;
    for (size_t i = 0; i < w0.size(); ++i) {
      w.push_back(w0[i].to(dtype).clone().requires_grad_());
      const int64_t pad = layers[i].k / 2;
      h = conv2d(h, w.back(), Tensor(), {{layers[i].stride, layers[i].stride}, {pad, pad}});
      if (i + 1 < w0.size()) h = relu(h);
    }
    sum(mul(h, probe.to(dtype))).backward();
    std::vector<Tensor> out = {x.grad().to(DType::Float64)};
    for (const Tensor& t : w) out.push_back(t.grad().to(DType::Float64));
    return out;
  };
  const cpu::CpuConvPath before = cpu::cpu_conv_path(DType::Float32);
  const auto exact = gradients(DType::Float64);  // im2col in float64
  cpu::set_cpu_conv_path(cpu::CpuConvPath::Im2col);
  const auto im2col = gradients(DType::Float32);
  cpu::set_cpu_conv_path(cpu::CpuConvPath::OneDnn);
  const auto onednn = gradients(DType::Float32);
  cpu::set_cpu_conv_path(before);
  auto error = [](const Tensor& got, const Tensor& want) {
    Tensor d = sub(got, want);
    return std::sqrt(sum(mul(d, d)).item() / sum(mul(want, want)).item());
  };
  for (size_t i = 0; i < exact.size(); ++i) {
    CAPTURE(i);  // 0: x, then the layers' weights
    const double e_im2col = error(im2col[i], exact[i]), e_onednn = error(onednn[i], exact[i]);
    CAPTURE(e_im2col);
    CAPTURE(e_onednn);
    CHECK(e_onednn < 1e-5);
    CHECK(e_onednn < 10 * e_im2col + 1e-7);
  }
}
