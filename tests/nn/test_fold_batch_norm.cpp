// FoldBatchNorms: one conv -> BN pair folded against the formula computed by hand (float64), and
// whole ResNets (basic and bottleneck blocks, downsample branches, stems) whose folded evaluation
// (and the covariance head's reduction block) equals the unfolded one to float32 rounding, restored bit for bit when the scope ends.
#include "nn/fold_batch_norm.h"
#include "nn/layers.h"
#include "nn/models/model_options.h"
#include "tests/test_util.h"

using namespace dsvd;
using namespace dsvd::nn;

namespace {

// conv (with bias) -> batch norm, declaring the pair.
class ConvThenNorm : public Module {
 public:
  ConvThenNorm() : Module("ConvThenNorm") {
    conv = register_module("conv", std::make_shared<Conv2d>(3, 4, Pair{3, 3}, Conv2dOptions{{2, 2}, {1, 1}}, true));
    bn = register_module("bn", std::make_shared<BatchNorm2d>(4));
  }
  Tensor forward_impl(const Tensor& x) override { return bn->forward(conv->forward(x)); }
  ConvBatchNormPairs conv_bn_pairs() const override { return {{conv, bn}}; }
  std::shared_ptr<Conv2d> conv;
  std::shared_ptr<BatchNorm2d> bn;
};

// Gives every batch norm non-trivial statistics and affine parameters.
void randomise_batch_norms(Module& m, uint64_t seed) {
  Generator gen(seed);
  for (auto& [name, t] : m.state_dict()) {
    const bool stat = name.ends_with("running_mean") || name.ends_with("running_var");
    const bool affine = name.find("bn") != std::string::npos || name.find("downsample.1") != std::string::npos ||
                        name.find("conv_dr_block.1") != std::string::npos;
    if (!stat && !(affine && (name.ends_with(".weight") || name.ends_with(".bias")))) continue;
    Tensor v = rand(t.sizes(), t.dtype(), &gen);
    if (name.ends_with("running_var") || name.ends_with(".weight")) v = add(v, 0.5);  // positive
    else v = sub(v, 0.5);
    m.load_tensor(name, v);
  }
}

size_t batch_norm_count(const Module& m) {
  size_t n = 0;
  for (const auto& [name, module] : m.named_modules()) n += module->type_name() == "BatchNorm2d";
  return n;
}

}  // namespace

TEST_CASE("fold batch norm: W·s and (b − μ)·s + β with s = γ/√(σ² + ε), against the formula by hand") {
  ConvThenNorm m;
  randomise_batch_norms(m, 4);
  m.eval();
  Generator gen(5);
  Tensor x = randn({2, 3, 9, 9}, DType::Float32, &gen);
  // By hand, per output channel, in float64.
  auto w = to_vector(m.conv->weight), b = to_vector(m.conv->bias);
  auto gamma = to_vector(m.bn->weight), beta = to_vector(m.bn->bias);
  auto mean = to_vector(m.bn->running_mean), var = to_vector(m.bn->running_var);
  std::vector<double> w_folded, b_folded;
  const size_t per_channel = w.size() / 4;
  for (size_t o = 0; o < 4; ++o) {
    const double s = gamma[o] / std::sqrt(var[o] + m.bn->eps);
    for (size_t k = 0; k < per_channel; ++k) w_folded.push_back(w[o * per_channel + k] * s);
    b_folded.push_back((b[o] - mean[o]) * s + beta[o]);
  }
  Tensor unfolded = m.forward(x);
  {
    FoldBatchNorms folded(m);
    CHECK(folded.folded() == 1);
    CHECK_CLOSE(m.conv->folded_weight, from_vector(w_folded, m.conv->weight.sizes()).to(DType::Float32), 1e-7, 0);
    CHECK_CLOSE(m.conv->folded_bias, from_vector(b_folded, {4}).to(DType::Float32), 1e-7, 0);
    CHECK_CLOSE(m.forward(x), unfolded, 1e-5, 1e-5);
  }
  CHECK(!m.conv->folded_weight.defined());
  CHECK(to_vector(m.forward(x)) == to_vector(unfolded));
}

TEST_CASE("fold batch norm: whole ResNets evaluate as before, and nothing is folded in training") {
  for (const auto& [arch, head] : {std::pair<std::string, std::string>{"resnet18", "gap"}, {"resnet50", "gap"},
                                  {"resnet18", "svd-pade"}}) {
    CAPTURE(arch);
    CAPTURE(head);
    ModelOptions o;
    o.num_classes = 10;
    o.width = 0.25;
    o.head = head;
    o.head_dim = 16;
    auto model = make_model(arch, o);
    randomise_batch_norms(*model, 6);
    Generator gen(7);
    Tensor x = randn({2, 3, 64, 64}, DType::Float32, &gen);
    {
      FoldBatchNorms in_training(*model);
      CHECK(in_training.folded() == 0);
    }
    model->eval();
    Tensor unfolded = model->forward(x);
    {
      FoldBatchNorms folded(*model);
      CHECK(folded.folded() == batch_norm_count(*model));  // every BN of a ResNet follows a conv
      CHECK_CLOSE(model->forward(x), unfolded, 1e-4, 1e-4);
    }
    CHECK(to_vector(model->forward(x)) == to_vector(unfolded));
  }
}
