// conv2d: 2-D convolution (cross-correlation, as every framework) on im2col + BLAS GEMM.
//
// Backward, per sample and group with cols = im2col(x):
//   dW = dy · colsᵀ,   dx = col2im(Wᵀ · dy),   db = Σ_{n,y,x} dy.
#include "ops/autocast.h"
#include "ops/internal.h"
#include "ops/kernel_table.h"
#include "ops/kernels/float32_compute.h"
#include "ops/kernels/nn.h"
#include "ops/nn_ops.h"

namespace dsvd {

Tensor conv2d(const Tensor& x_in, const Tensor& weight_in, const Tensor& bias_in, const Conv2dOptions& o) {
  const Tensor x = autocast::input("conv2d", x_in);
  const Tensor weight = autocast::input("conv2d", weight_in);
  const Tensor bias = autocast::input("conv2d", bias_in);

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
  kernels::Conv2dGeometry g{x.size(0), x.size(1), x.size(2), x.size(3), weight.size(0), weight.size(2), weight.size(3),
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
  const MemoryFormat format = kernels::layout_for<kernels::Conv2dForwardKernel, kernels::Conv2dBackwardKernel>(x);
  Tensor xc = detail::contiguous_raw(x, format), wc = detail::contiguous_raw(weight, format);
  Tensor bc = bias.defined() ? detail::contiguous_raw(bias) : Tensor();
  g.channels_last = format == MemoryFormat::ChannelsLast;
  Tensor y = empty({g.batch, g.out_channels, g.out_h, g.out_w}, x.dtype(), x.device(), format);
  Tensor workspace;  // the input in the kernel's own layout, if it made one (kept for the backward)
  kernels::call<kernels::Conv2dForwardKernel>(x.device(), g, xc, wc, bc, y, workspace);
  return record_op("conv2d", {y}, {x, weight, bias}, {{"input", xc}, {"weight", wc}, {"input_workspace", workspace}},
                   [g, format](const std::vector<Tensor>& grads, FunctionNode& node) {
                     const Tensor& xs = node.saved_tensor(0);
                     const Tensor& ws = node.saved_tensor(1);
                     Tensor dy = detail::contiguous_raw(grads[0], format);
                     const Device dev = xs.device();
                     Tensor dx = node.needs_input_grad(0) ? empty(xs.sizes(), xs.dtype(), dev, format) : Tensor();
                     Tensor dw = node.needs_input_grad(1) ? empty(ws.sizes(), ws.dtype(), dev, format) : Tensor();
                     Tensor db = node.needs_input_grad(2) ? empty({g.out_channels}, ws.dtype(), dev) : Tensor();
                     kernels::call<kernels::Conv2dBackwardKernel>(dev, g, xs, ws, dy, dx, dw, db,
                                                                  node.saved_tensor(2));
                     // The weight's gradient in the parameter's own (NCHW) layout.
                     if (dw.defined()) dw = detail::contiguous_raw(dw);
                     return std::vector<Tensor>{dx, dw, db};
                   })[0];
}

}  // namespace dsvd
