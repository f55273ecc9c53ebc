// conv2d: 2-D convolution (cross-correlation, as every framework); conv2d_relu: the same fused
// with the ReLU after it (one kernel forward where the device has one: cuDNN's runtime fusion on a
// GPU, the convolution with ReLU applied in place on the CPU).
//
// Backward, per sample and group with cols = im2col(x):
//   dW = dy · colsᵀ,   dx = col2im(Wᵀ · dy),   db = Σ_{n,y,x} dy;
// conv2d_relu: the same with dy replaced by ReLU's masked gradient (dy where y > 0 or y is NaN).
#include "ops/autocast.h"
#include "ops/internal.h"
#include "ops/kernel_table.h"
#include "ops/kernels/elementwise.h"
#include "ops/kernels/float32_compute.h"
#include "ops/kernels/nn.h"
#include "ops/nn_ops.h"

namespace dsvd {

namespace {

// What conv2d and conv2d_relu share: autocast applied, the arguments checked, the geometry and the
// memory format chosen, the operands laid out for the kernels.
struct PreparedConv {
  Tensor x, weight, bias;  // the autograd inputs (after autocast)
  Tensor xc, wc, bc;       // as the kernels get them
  kernels::Conv2dGeometry g;
  MemoryFormat format = MemoryFormat::Contiguous;
};

template <typename ForwardFamily>
PreparedConv prepare(const Tensor& x_in, const Tensor& weight_in, const Tensor& bias_in, const Conv2dOptions& o) {
  PreparedConv p;
  const Tensor x = p.x = autocast::input("conv2d", x_in);
  const Tensor weight = p.weight = autocast::input("conv2d", weight_in);
  const Tensor bias = p.bias = autocast::input("conv2d", bias_in);

  DSVD_CHECK(x.dim() == 4, "conv2d: input must be (N, C, H, W), got shape ", shape_str(x.sizes()));
  DSVD_CHECK(weight.dim() == 4, "conv2d: weight must be (O, C/groups, kh, kw), got shape ", shape_str(weight.sizes()));
  DSVD_CHECK(x.dtype() == weight.dtype() && is_floating(x.dtype()), "conv2d: input and weight must share a float "
             "dtype, got ", dtype_name(x.dtype()), " and ", dtype_name(weight.dtype()));
  DSVD_CHECK(o.groups >= 1 && x.size(1) % o.groups == 0 && weight.size(0) % o.groups == 0, "conv2d: groups = ",
             o.groups, " must divide the input channels (", x.size(1), ") and output channels (", weight.size(0), ")");
  DSVD_CHECK(weight.size(1) * o.groups == x.size(1), "conv2d: weight of shape ", shape_str(weight.sizes()),
             " expects ", weight.size(1) * o.groups, " input channels, the input has ", x.size(1));
  for (int k = 0; k < 2; ++k)
    DSVD_CHECK(o.stride[k] >= 1 && o.dilation[k] >= 1 && o.padding[k] >= 0, "conv2d: stride and dilation must be >= 1 "
               "and padding >= 0, got stride (", o.stride[0], ", ", o.stride[1], "), padding (", o.padding[0], ", ",
               o.padding[1], "), dilation (", o.dilation[0], ", ", o.dilation[1], ")");
  if (bias.defined())
    DSVD_CHECK(bias.dim() == 1 && bias.size(0) == weight.size(0) && bias.dtype() == x.dtype(), "conv2d: bias must be (",
               weight.size(0), ") of ", dtype_name(x.dtype()), ", got ", shape_str(bias.sizes()));
  kernels::Conv2dGeometry& g = p.g;
  g = {x.size(0), x.size(1), x.size(2), x.size(3), weight.size(0), weight.size(2), weight.size(3),
       o.stride[0], o.stride[1], o.padding[0], o.padding[1], o.dilation[0], o.dilation[1], o.groups,
       0, 0};
  g.out_h = (g.height + 2 * g.pad_h - g.dilation_h * (g.kernel_h - 1) - 1) / g.stride_h + 1;
  g.out_w = (g.width + 2 * g.pad_w - g.dilation_w * (g.kernel_w - 1) - 1) / g.stride_w + 1;
  DSVD_CHECK(g.out_h > 0 && g.out_w > 0, "conv2d: input ", shape_str(x.sizes()), " is too small for kernel (",
             g.kernel_h, ", ", g.kernel_w, ") with this padding/dilation (output would be ", g.out_h, "x", g.out_w, ")");
  DSVD_CHECK(x.device() == weight.device() && (!bias.defined() || bias.device() == x.device()), "conv2d: input, weight "
             "and bias must be on one device (input on ", x.device().str(), ", weight on ", weight.device().str(), ")");
  // A channels-last input stays so where the device's kernels take it (cuDNN's tensor-core
  // path): the weight goes to the kernel in the same format, y and dx come out in it.
  p.format = kernels::layout_for<ForwardFamily, kernels::Conv2dBackwardKernel>(x);
  p.xc = detail::contiguous_raw(x, p.format);
  p.wc = detail::contiguous_raw(weight, p.format);
  p.bc = bias.defined() ? detail::contiguous_raw(bias) : Tensor();
  g.channels_last = p.format == MemoryFormat::ChannelsLast;
  return p;
}

Tensor empty_output(const PreparedConv& p) {
  return empty({p.g.batch, p.g.out_channels, p.g.out_h, p.g.out_w}, p.x.dtype(), p.x.device(), p.format);
}

// dx, dw, db from dy and the node's saved "input", "weight" and "input_workspace".
std::vector<Tensor> conv2d_gradients(const kernels::Conv2dGeometry& g, MemoryFormat format, FunctionNode& node,
                                     const Tensor& grad_y) {
  const Tensor& xs = node.saved_tensor("input");
  const Tensor& ws = node.saved_tensor("weight");
  Tensor dy = detail::contiguous_raw(grad_y, format);
  const Device dev = xs.device();
  Tensor dx = node.needs_input_grad(0) ? empty(xs.sizes(), xs.dtype(), dev, format) : Tensor();
  Tensor dw = node.needs_input_grad(1) ? empty(ws.sizes(), ws.dtype(), dev, format) : Tensor();
  Tensor db = node.needs_input_grad(2) ? empty({g.out_channels}, ws.dtype(), dev) : Tensor();
  kernels::call<kernels::Conv2dBackwardKernel>(dev, g, xs, ws, dy, dx, dw, db, node.saved_tensor("input_workspace"));
  // The weight's gradient in the parameter's own (NCHW) layout.
  if (dw.defined()) dw = detail::contiguous_raw(dw);
  return {dx, dw, db};
}

}  // namespace

Tensor conv2d(const Tensor& x_in, const Tensor& weight_in, const Tensor& bias_in, const Conv2dOptions& o) {
  PreparedConv p = prepare<kernels::Conv2dForwardKernel>(x_in, weight_in, bias_in, o);
  Tensor y = empty_output(p);
  Tensor workspace;  // the input in the kernel's own layout, if it made one (kept for the backward)
  kernels::call<kernels::Conv2dForwardKernel>(p.x.device(), p.g, p.xc, p.wc, p.bc, y, workspace);
  return record_op("conv2d", {y}, {p.x, p.weight, p.bias},
                   {{"input", p.xc}, {"weight", p.wc}, {"input_workspace", workspace}},
                   [g = p.g, format = p.format](const std::vector<Tensor>& grads, FunctionNode& node) {
                     return conv2d_gradients(g, format, node, grads[0]);
                   })[0];
}

Tensor conv2d_relu(const Tensor& x_in, const Tensor& weight_in, const Tensor& bias_in, const Conv2dOptions& o) {
  if (!x_in.defined() || !kernels::has_kernel<kernels::Conv2dReluForwardKernel>(x_in.device().kind))
    return relu(conv2d(x_in, weight_in, bias_in, o));  // the same values, composed
  PreparedConv p = prepare<kernels::Conv2dReluForwardKernel>(x_in, weight_in, bias_in, o);
  Tensor y = empty_output(p);
  Tensor workspace;
  kernels::call<kernels::Conv2dReluForwardKernel>(p.x.device(), p.g, p.xc, p.wc, p.bc, y, workspace);
  return record_op("conv2d_relu", {y}, {p.x, p.weight, p.bias},
                   {{"input", p.xc}, {"weight", p.wc}, {"input_workspace", workspace}, {"output", y}},
                   [g = p.g, format = p.format](const std::vector<Tensor>& grads, FunctionNode& node) {
                     // ReLU's rule on the saved output (g where y > 0 or y is NaN), then conv2d's.
                     const Tensor& r = node.saved_tensor("output");
                     Tensor masked = empty(r.sizes(), r.dtype(), r.device(), format);
                     kernels::call<kernels::ReluBackwardKernel>(r.device(), masked, r, grads[0].to(r.dtype()));
                     // The output is done with: freed before the convolution's backward (the
                     // composed ops free ReLU's saved result at this point too).
                     node.drop_saved_if_last_use("output");
                     return conv2d_gradients(g, format, node, masked);
                   })[0];
}

}  // namespace dsvd
