// A build without oneDNN: conv2d runs on the im2col kernels only.
#include "ops/cpu/conv2d_onednn.h"

namespace dsvd::cpu {

bool onednn_available() { return false; }

void onednn_conv2d_forward(const Conv2dGeometry&, const Tensor&, const Tensor&, const Tensor&, const Tensor&, Tensor*) {
  fail("conv2d: dsvd was built without oneDNN (install libdnnl-dev, e.g. through tools/bootstrap, and rebuild)");
}

void onednn_conv2d_backward(const Conv2dGeometry&, const Tensor&, const Tensor&, const Tensor&, const Tensor&,
                            const Tensor&, const Tensor&, bool, const Tensor&) {
  fail("conv2d: dsvd was built without oneDNN (install libdnnl-dev, e.g. through tools/bootstrap, and rebuild)");
}

}  // namespace dsvd::cpu
