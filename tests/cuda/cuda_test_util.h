// What the CUDA test files share: whether a device exists (every case skips visibly without one),
// seeded random tensors, and the small ResNet-18 they train.
#pragma once
#include "nn/models/model_options.h"
#include "tensor/device_backend.h"
#include "tensor/random.h"

namespace dsvd::test {

inline bool has_device() { return device_count(Device::Kind::CUDA) > 0; }
inline const Device kGpu = Device::cuda(0);

inline Tensor random(const Shape& shape, uint64_t seed, DType dtype = DType::Float64) {
  Generator g(seed);
  return randn(shape, dtype, &g);
}

// A ResNet-18 (small stem, width 0.125, 5 classes, head_dim 8: 16x16 inputs) with `head`, made
// from seed 3, on the CPU.
inline nn::ModulePtr small_resnet(const char* head) {
  nn::ModelOptions o;
  o.num_classes = 5;
  o.small_stem = true;
  o.width = 0.125;
  o.head = head;
  o.head_dim = 8;
  manual_seed(3);
  return nn::make_model("resnet18", o);
}

}  // namespace dsvd::test
