// conv_layouts: what keeping activations channels-last (NHWC) between layers would save on the
// CPU, measured on oneDNN itself for every convolution of a ResNet-50 step at 224² (batch 8, as
// train_step's R50-224). Two ways per convolution and pass, in alternating rounds:
//   nchw: dsvd's way today — NCHW tensors reordered into the layouts oneDNN picks (nChw16c and the
//         like), the primitive, the result reordered back (reorder buffers allocated once);
//   nhwc: NHWC in and out, no reorder of activations (the weights keep oneDNN's layout).
// Prints, per shape, the median milliseconds of forward, input gradient and weights' gradient
// (the stem's input gradient is skipped: an image needs none), and the step's totals weighted by
// how often each shape occurs. docs/cpu-performance.md reads the result.
// Usage: conv_layouts [ROUNDS=3] [BATCH=8]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include <oneapi/dnnl/dnnl.hpp>

namespace {

using dnnl::memory;
using tag = memory::format_tag;
constexpr auto f32 = memory::data_type::f32;

struct ConvShape {
  int in, out, kernel, stride, size, count;  // size: the input plane's side; count: uses per step
};

// ResNet-50 at 224²: the stem, then per stage its first block (with the strided 3×3 and the
// strided downsample) and the identical blocks after it.
const std::vector<ConvShape> kResNet50 = {
    {3, 64, 7, 2, 224, 1},
    {64, 64, 1, 1, 56, 1},    {64, 64, 3, 1, 56, 3},    {64, 256, 1, 1, 56, 4},   {256, 64, 1, 1, 56, 2},
    {256, 128, 1, 1, 56, 1},  {128, 128, 3, 2, 56, 1},  {256, 512, 1, 2, 56, 1},  {128, 512, 1, 1, 28, 4},
    {512, 128, 1, 1, 28, 3},  {128, 128, 3, 1, 28, 3},  {512, 256, 1, 1, 28, 1},  {256, 256, 3, 2, 28, 1},
    {512, 1024, 1, 2, 28, 1}, {256, 1024, 1, 1, 14, 6}, {1024, 256, 1, 1, 14, 5}, {256, 256, 3, 1, 14, 5},
    {1024, 512, 1, 1, 14, 1}, {512, 512, 3, 2, 14, 1},  {1024, 2048, 1, 2, 14, 1}, {512, 2048, 1, 1, 7, 3},
    {2048, 512, 1, 1, 7, 2},  {512, 512, 3, 1, 7, 2}};

dnnl::engine& engine() {
  static dnnl::engine e(dnnl::engine::kind::cpu, 0);
  return e;
}

double seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// A buffer in `desc`, and the same data in `want` (a copy made once when the layouts differ).
struct Operand {
  memory user, computed;
  Operand(const memory::desc& desc, const memory::desc& want) : user(desc, engine()), computed(user) {
    float* p = static_cast<float*>(user.get_data_handle());
    for (size_t i = 0; i < desc.get_size() / sizeof(float); ++i) p[i] = float(int(i * 7919 % 1000)) / 1000.0f - 0.5f;
    if (want != desc) computed = memory(want, engine());
  }
  bool reordered() const { return computed.get() != user.get(); }
};

// Milliseconds of one convolution's three passes (forward, input gradient, weights' gradient).
struct PassTimes {
  double forward, data, weights;
};

class Convolution {
 public:
  Convolution(const ConvShape& s, int batch, bool nhwc) {
    const int pad = s.kernel / 2, out_size = (s.size + 2 * pad - s.kernel) / s.stride + 1;
    const memory::dims src{batch, s.in, s.size, s.size}, dst{batch, s.out, out_size, out_size},
        wei{s.out, s.in, s.kernel, s.kernel}, strides{s.stride, s.stride}, dilation{0, 0}, padding{pad, pad};
    const tag activations = nhwc ? tag::nhwc : tag::nchw;
    src_ = {src, f32, activations};
    dst_ = {dst, f32, activations};
    wei_ = {wei, f32, tag::oihw};
    const memory::desc src_any = nhwc ? src_ : memory::desc(src, f32, tag::any);
    const memory::desc dst_any = nhwc ? dst_ : memory::desc(dst, f32, tag::any);
    const memory::desc wei_any(wei, f32, tag::any), bias({s.out}, f32, tag::x);
    const auto direct = dnnl::algorithm::convolution_direct;
    forward_pd_ = dnnl::convolution_forward::primitive_desc(
        dnnl::convolution_forward::desc(dnnl::prop_kind::forward_training, direct, src_any, wei_any, bias, dst_any,
                                        strides, dilation, padding, padding),
        engine());
    data_pd_ = dnnl::convolution_backward_data::primitive_desc(
        dnnl::convolution_backward_data::desc(direct, src_any, wei_any, dst_any, strides, dilation, padding, padding),
        engine(), forward_pd_);
    weights_pd_ = dnnl::convolution_backward_weights::primitive_desc(
        dnnl::convolution_backward_weights::desc(direct, src_any, wei_any, bias, dst_any, strides, dilation, padding,
                                                 padding),
        engine(), forward_pd_);
    bias_ = memory(bias, engine());
    bias_grad_ = memory(bias, engine());
  }

  PassTimes time(dnnl::stream& stream, int repeats, bool skip_data) {
    dnnl::convolution_forward forward(forward_pd_);
    dnnl::convolution_backward_data data(data_pd_);
    dnnl::convolution_backward_weights weights(weights_pd_);
    Operand x(src_, forward_pd_.src_desc()), y(dst_, forward_pd_.dst_desc()), w(wei_, forward_pd_.weights_desc());
    Operand dy(dst_, data_pd_.diff_dst_desc()), dx(src_, data_pd_.diff_src_desc()), wd(wei_, data_pd_.weights_desc());
    Operand xw(src_, weights_pd_.src_desc()), dyw(dst_, weights_pd_.diff_dst_desc()),
        dw(wei_, weights_pd_.diff_weights_desc());
    if (w.reordered()) dnnl::reorder(w.user, w.computed).execute(stream, w.user, w.computed);
    if (wd.reordered()) dnnl::reorder(wd.user, wd.computed).execute(stream, wd.user, wd.computed);
    auto in = [&](Operand& o) {
      if (o.reordered()) dnnl::reorder(o.user, o.computed).execute(stream, o.user, o.computed);
    };
    auto out = [&](Operand& o) {
      if (o.reordered()) dnnl::reorder(o.computed, o.user).execute(stream, o.computed, o.user);
    };
    auto timed = [&](auto pass) {
      pass();  // warm-up: first touches, JIT caches
      stream.wait();
      const double t0 = seconds();
      for (int r = 0; r < repeats; ++r) pass();
      stream.wait();
      return (seconds() - t0) / repeats * 1e3;
    };
    PassTimes t{};
    t.forward = timed([&] {
      in(x);
      forward.execute(stream, {{DNNL_ARG_SRC, x.computed}, {DNNL_ARG_WEIGHTS, w.computed}, {DNNL_ARG_BIAS, bias_},
                               {DNNL_ARG_DST, y.computed}});
      out(y);
    });
    if (!skip_data)
      t.data = timed([&] {
        in(dy);
        data.execute(stream, {{DNNL_ARG_DIFF_DST, dy.computed}, {DNNL_ARG_WEIGHTS, wd.computed},
                              {DNNL_ARG_DIFF_SRC, dx.computed}});
        out(dx);
      });
    t.weights = timed([&] {
      in(xw);
      in(dyw);
      weights.execute(stream, {{DNNL_ARG_SRC, xw.computed}, {DNNL_ARG_DIFF_DST, dyw.computed},
                               {DNNL_ARG_DIFF_WEIGHTS, dw.computed}, {DNNL_ARG_DIFF_BIAS, bias_grad_}});
      out(dw);
    });
    return t;
  }

 private:
  memory::desc src_, dst_, wei_;
  memory bias_, bias_grad_;
  dnnl::convolution_forward::primitive_desc forward_pd_;
  dnnl::convolution_backward_data::primitive_desc data_pd_;
  dnnl::convolution_backward_weights::primitive_desc weights_pd_;
};

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  const int rounds = argc > 1 ? std::max(1, std::atoi(argv[1])) : 3;
  const int batch = argc > 2 ? std::max(1, std::atoi(argv[2])) : 8;
  dnnl::stream stream(engine());
  std::printf("conv_layouts: ResNet-50 convolutions at 224², batch %d, %d alternating rounds, median ms per pass\n",
              batch, rounds);
  std::printf("%-24s %-26s %-26s\n", "in->out kernel/stride", "nchw fwd / data / weights", "nhwc fwd / data / weights");
  double total[2][3] = {};
  for (const ConvShape& s : kResNet50) {
    const bool stem = s.in == 3;
    std::vector<double> times[2][3];
    for (int r = 0; r < rounds; ++r)
      for (int nhwc = 0; nhwc < 2; ++nhwc) {
        const PassTimes t = Convolution(s, batch, nhwc == 1).time(stream, 2, stem);
        times[nhwc][0].push_back(t.forward);
        times[nhwc][1].push_back(t.data);
        times[nhwc][2].push_back(t.weights);
      }
    char label[64];
    std::snprintf(label, sizeof label, "%d->%d %dx%d/%d %d² x%d", s.in, s.out, s.kernel, s.kernel, s.stride, s.size,
                  s.count);
    std::printf("%-24s", label);
    for (int nhwc = 0; nhwc < 2; ++nhwc) {
      double m[3];
      for (int p = 0; p < 3; ++p) {
        m[p] = median(times[nhwc][p]);
        total[nhwc][p] += m[p] * s.count;
      }
      std::printf(" %7.2f %7.2f %7.2f   ", m[0], m[1], m[2]);
    }
    std::printf("\n");
  }
  const double nchw = total[0][0] + total[0][1] + total[0][2], nhwc = total[1][0] + total[1][1] + total[1][2];
  std::printf("step total: nchw %.1f ms (fwd %.1f, data %.1f, weights %.1f); nhwc %.1f ms (fwd %.1f, data %.1f, "
              "weights %.1f); nhwc/nchw %.2f\n",
              nchw, total[0][0], total[0][1], total[0][2], nhwc, total[1][0], total[1][1], total[1][2], nhwc / nchw);
  return 0;
}
