// Weight initialisations as PyTorch and torchvision apply them, drawn from dsvd's seeded
// generator (tensor/random.h): manual_seed(s) before building a model makes it reproducible.
#pragma once
#include "tensor/random.h"
#include "tensor/tensor.h"

namespace dsvd::nn::init {

Tensor uniform(const Shape& shape, double low, double high, Generator* gen = nullptr);
Tensor normal(const Shape& shape, double std, Generator* gen = nullptr);
// PyTorch's default for Conv2d/Linear weights and biases: U(−1/√fan_in, 1/√fan_in)
// (kaiming_uniform with a = √5 reduces to this bound).
Tensor default_uniform(const Shape& shape, int64_t fan_in, Generator* gen = nullptr);
// Kaiming-normal, mode fan_out, ReLU gain: N(0, 2/fan_out), fan_out = out_channels·kh·kw.
Tensor kaiming_normal_fan_out(const Shape& conv_weight_shape, Generator* gen = nullptr);

}  // namespace dsvd::nn::init
