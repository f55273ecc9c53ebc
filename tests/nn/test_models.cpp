// Models: parameter counts equal torchvision's (and the DSVD variants' of
// docs/models-and-training.md), state_dict names and shapes equal torchvision's lists (fixtures made by
// tests/fixtures/make_torchvision_names.py), output shapes for every head and stem, and the
// train/eval switch.
#include <fstream>
#include <sstream>

#include "tests/autograd/audit_dir.h"
#include "nn/covariance_head.h"
#include "nn/layers.h"
#include "nn/models/model_options.h"
#include "tests/test_util.h"

using namespace dsvd;
using namespace dsvd::nn;

namespace {

std::vector<std::string> fixture_lines(const std::string& name) {
  std::ifstream in(test::fixture_path(name));
  REQUIRE_MESSAGE(in.good(), "missing fixture " << name);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) lines.push_back(line);
  return lines;
}

std::vector<std::string> our_lines(const Module& m) {
  std::vector<std::string> lines;
  for (const auto& [name, t] : m.state_dict()) {
    std::string shape;
    for (size_t i = 0; i < t.sizes().size(); ++i) shape += (i ? "," : "") + std::to_string(t.sizes()[i]);
    lines.push_back(name + " " + shape);
  }
  return lines;
}

bool min_max_equal(const Tensor& t, double v) { return max(t).item() == v && max(neg(t)).item() == -v; }

ModelOptions head(const std::string& h) {
  ModelOptions o;
  o.head = h;
  return o;
}

}  // namespace

TEST_CASE("models: parameter counts equal torchvision's and the DSVD variants'") {
  CHECK(make_model("alexnet")->parameter_count() == 61100840);
  CHECK(make_model("resnet18")->parameter_count() == 11689512);
  CHECK(make_model("resnet34")->parameter_count() == 21797672);
  CHECK(make_model("resnet50")->parameter_count() == 25557032);
  CHECK(make_model("resnet101")->parameter_count() == 44549160);
  CHECK(make_model("resnet152")->parameter_count() == 60192808);
  // docs/models-and-training.md §2–3.
  ModelOptions bn;
  bn.alexnet_bn = true;
  CHECK(make_model("alexnet", bn)->parameter_count() == 61103144);
  CHECK(make_model("alexnet", head("svd-pade"))->parameter_count() == 158162472);
  CHECK(make_model("resnet18", head("svd-pade"))->parameter_count() == 44205096);
  CHECK(make_model("resnet34", head("isqrt"))->parameter_count() == 54313256);
  CHECK(make_model("resnet50", head("svd-taylor"))->parameter_count() == 56929832);
}

TEST_CASE("models: state_dict names and shapes equal torchvision's") {
  CHECK(our_lines(*make_model("resnet18")) == fixture_lines("resnet18_state_dict.txt"));
  CHECK(our_lines(*make_model("resnet50")) == fixture_lines("resnet50_state_dict.txt"));
  CHECK(our_lines(*make_model("alexnet")) == fixture_lines("alexnet_state_dict.txt"));
  // The covariance head follows fast-MPN-COV's names.
  auto names = make_model("resnet18", head("svd-pade"))->state_dict();
  bool found = false;
  for (const auto& [n, t] : names) found |= n == "representation.conv_dr_block.0.weight";
  CHECK(found);
}

TEST_CASE("models: forward shapes for heads, stems and widths; train/eval reaches every layer") {
  manual_seed(1);
  ModelOptions small;
  small.num_classes = 10;
  small.small_stem = true;
  small.width = 0.25;
  Tensor x = randn({2, 3, 32, 32});
  for (const char* arch : {"resnet18", "resnet50", "alexnet"}) {
    CAPTURE(arch);
    auto m = make_model(arch, small);
    CHECK(m->forward(x).sizes() == Shape{2, 10});
    ModelOptions cov = small;
    cov.head = "svd-pade";
    cov.head_dim = 16;
    auto mc = make_model(arch, cov);
    Tensor y = mc->forward(x);
    CHECK(y.sizes() == Shape{2, 10});
    CHECK(y.dtype() == DType::Float32);
  }
  // Last-stage stride 1 (iSQRT-COV recipe) doubles the head's spatial size.
  ModelOptions s1 = small;
  s1.head = "isqrt";
  s1.head_dim = 8;
  s1.last_stride = 1;
  CHECK(make_model("resnet18", s1)->forward(x).sizes() == Shape{2, 10});
  auto m = make_model("resnet18", small);
  m->eval();
  for (const auto& [n, sub] : m->named_modules()) REQUIRE(!sub->is_training());
  CHECK_THROWS_WITH_AS(make_model("vgg16"), doctest::Contains("unknown architecture 'vgg16'"), Error);
  CHECK_THROWS_WITH_AS(make_model("resnet18", head("svd-cholesky")),
                       doctest::Contains("unknown head 'svd-cholesky' (gap, svd-original, svd-trunc"), Error);
  CHECK_THROWS_WITH_AS(make_model("resnet18", head("pade")), doctest::Contains("unknown head 'pade'"), Error);
}

TEST_CASE("models: initialisations follow torchvision") {
  manual_seed(3);
  auto m = make_model("resnet50");
  for (const auto& [name, t] : m->named_parameters()) {
    if (name == "conv1.weight") {
      // Kaiming normal, fan_out = 64·7·7: std √(2/3136) = 0.02525.
      double sd = std::sqrt(var(t).item());
      CHECK(sd == doctest::Approx(std::sqrt(2.0 / 3136)).epsilon(0.03));
    }
    if (name == "bn1.weight") CHECK(min_max_equal(t, 1.0));
    if (name == "fc.weight") {
      double bound = 1 / std::sqrt(2048.0);
      CHECK(max(abs(t)).item() <= bound);
      CHECK(max(abs(t)).item() > 0.99 * bound);
    }
  }
}

TEST_CASE("models: a Sequential runs Conv2d -> ReLU and BatchNorm2d -> ReLU as fused ops, each module apart under the audit") {
  auto last_op = [](nn::Sequential& s, const Tensor& x) {
    Tensor y = s.forward(x);
    return y.grad_fn() ? y.grad_fn()->name() : std::string("none");
  };
  Generator g(4);
  Tensor x = randn({2, 3, 8, 8}, DType::Float32, &g).requires_grad_();
  nn::Sequential conv_relu({std::make_shared<nn::Conv2d>(3, 4, Pair{3, 3}), std::make_shared<nn::ReLU>()});
  nn::Sequential bn_relu({std::make_shared<nn::Conv2d>(3, 4, Pair{3, 3}), std::make_shared<nn::BatchNorm2d>(4),
                          std::make_shared<nn::ReLU>()});
  CHECK(last_op(conv_relu, x) == "conv2d_relu");
  CHECK(last_op(bn_relu, x) == "batch_norm_relu");
  // The fused op gives the composed values (bit for bit for conv2d_relu: ReLU in place).
  Tensor fused = conv_relu.forward(x);
  testing::AuditDir audit_on({});
  CHECK(last_op(conv_relu, x) == "relu");
  CHECK(last_op(bn_relu, x) == "relu");
  CHECK(to_vector(fused) == to_vector(conv_relu.forward(x)));
}
