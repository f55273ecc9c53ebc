// Audit mode: the trace lists every op in forward and backward order with module paths, shapes
// and statistics (checked against values computed here); an injected NaN stops at the right op
// with dumps that load back; the meta-layer's repair counts match the spec's tie example;
// module dumps; and bit-identical training with 1 and 2 threads in deterministic mode.
#include <omp.h>

#include <filesystem>
#include <fstream>

#include "autograd/audit.h"
#include "nn/json.h"
#include "nn/layers.h"
#include "nn/models/model_options.h"
#include "nn/optim/sgd.h"
#include "ops/cpu/blas_runtime.h"
#include "ops/matfn/sqrtm.h"
#include "ops/nn_ops.h"
#include "tensor/npy.h"
#include "tests/autograd/audit_dir.h"
#include "tests/test_util.h"

using namespace dsvd;
namespace fs = std::filesystem;
using testing::AuditDir;

namespace {

std::shared_ptr<nn::Sequential> small_net() {
  manual_seed(3);
  return std::make_shared<nn::Sequential>(std::initializer_list<nn::ModulePtr>{
      std::make_shared<nn::Conv2d>(1, 2, Pair{3, 3}), std::make_shared<nn::BatchNorm2d>(2), std::make_shared<nn::ReLU>()});
}

}  // namespace

TEST_CASE("audit: the trace lists every op in order with module paths, shapes and statistics") {
  auto net = small_net();
  Generator g(1);
  Tensor x = randn({2, 1, 5, 5}, DType::Float32, &g);
  // The reference values, computed with auditing off.
  Tensor conv_out;
  {
    auto ref = small_net();
    conv_out = ref->children()[0].second->forward(x);
  }
  audit::Config c;
  c.trace = true;
  AuditDir dir(c);
  audit::set_step(7);
  sum(net->forward(x)).backward();
  auto lines = dir.lines("trace.jsonl");
  std::vector<std::string> ops;
  for (const auto& l : lines) ops.push_back(l.find("op")->string + "/" + l.find("direction")->string + "/" + l.find("module")->string);
  // The ops in order; the parameters' AccumulateGrad nodes may interleave with the backward.
  std::vector<std::string> ordered;
  int accumulations = 0;
  for (const auto& o : ops) {
    if (o.rfind("AccumulateGrad/backward", 0) == 0) ++accumulations;
    else ordered.push_back(o);
  }
  std::vector<std::string> expected = {"conv2d/forward/0", "batch_norm/forward/1", "relu/forward/2", "sum/forward/",
                                       "sum/backward/", "relu/backward/2", "batch_norm/backward/1", "conv2d/backward/0"};
  CHECK(ordered == expected);
  CHECK(accumulations == 4);  // conv weight and bias, BN weight and bias
  const json::Value& conv = lines[0];
  CHECK(conv.find("step")->integer == 7);
  const json::Value& out = conv.find("outputs")->array[0];
  CHECK(out.find("dtype")->string == "float32");
  auto v = to_vector(conv_out);
  double lo = *std::min_element(v.begin(), v.end()), hi = *std::max_element(v.begin(), v.end()), mean = 0, sq = 0;
  for (double e : v) {
    mean += e / double(v.size());
    sq += e * e;
  }
  CHECK(out.find("min")->number == doctest::Approx(lo).epsilon(1e-6));
  CHECK(out.find("max")->number == doctest::Approx(hi).epsilon(1e-6));
  CHECK(out.find("mean")->number == doctest::Approx(mean).epsilon(1e-5));
  CHECK(out.find("l2")->number == doctest::Approx(std::sqrt(sq)).epsilon(1e-6));
  CHECK(out.find("nan")->integer == 0);
  std::vector<int64_t> shape;
  for (const auto& d : lines[1].find("inputs")->array[0].find("shape")->array) shape.push_back(d.integer);
  CHECK(shape == std::vector<int64_t>{2, 2, 3, 3});
  // The backward line of relu carries the incoming and the produced gradient.
  CHECK(lines[5].find("grad_outputs")->array.size() == 1);
  CHECK(lines[5].find("grad_inputs")->array.size() == 1);
}

TEST_CASE("audit: filters by op name, module prefix and step") {
  auto net = small_net();
  Tensor x = randn({2, 1, 5, 5});
  audit::Config c;
  c.trace = true;
  c.module_prefix = "1";
  c.first_step = 2;
  c.last_step = 3;
  AuditDir dir(c);
  for (int64_t step = 0; step < 5; ++step) {
    audit::set_step(step);
    sum(net->forward(x)).backward();
  }
  auto lines = dir.lines("trace.jsonl");
  REQUIRE(lines.size() == 4);  // batch_norm forward + backward, steps 2 and 3
  for (const auto& l : lines) {
    CHECK(l.find("module")->string == "1");
    CHECK(l.find("op")->string == "batch_norm");
  }
}

TEST_CASE("audit: an injected NaN stops at the first op that makes it, and the dumps load back") {
  manual_seed(4);
  auto net = std::make_shared<nn::Sequential>(
      std::initializer_list<nn::ModulePtr>{std::make_shared<nn::Linear>(4, 3), std::make_shared<nn::ReLU>()});
  Tensor x = from_vector({1, 2, NAN, 4, 5, 6, 7, 8}, {2, 4}, DType::Float32);
  audit::Config c;
  c.stop_on_nonfinite = true;
  AuditDir dir(c);
  std::string message;
  try {
    net->forward(x);
  } catch (const audit::NonFiniteError& e) {
    message = e.what();
  }
  CHECK(message.find("op 'matmul' (module '0'") != std::string::npos);
  CHECK(message.find("input0 [2, 4] with 1 NaN") != std::string::npos);
  CHECK(message.find("input1 [4, 3] finite") != std::string::npos);
  auto index = dir.lines("dump/index.jsonl");
  REQUIRE(index.size() >= 3);
  CHECK(index[0].find("role")->string == "input0");
  Tensor back = load_npy((dir.path / "audit" / "dump" / index[0].find("file")->string).string());
  auto bv = to_vector(back), xv = to_vector(x);
  REQUIRE(bv.size() == xv.size());
  for (size_t i = 0; i < xv.size(); ++i) CHECK((bv[i] == xv[i] || (std::isnan(bv[i]) && std::isnan(xv[i]))));
  // A backward that produces Inf: d sqrt(x)/dx at 0.
  Tensor z = from_vector({0.0, 1.0}, {2}).requires_grad_();
  std::string backward_message;
  try {
    sum(sqrt(z)).backward();
  } catch (const audit::NonFiniteError& e) {
    backward_message = e.what();
  }
  CHECK(backward_message.find("the backward of op 'sqrt'") != std::string::npos);
  CHECK(backward_message.find("1 Inf") != std::string::npos);
  // An op at the top level is in module '' in the message, as in index.jsonl (it said '<top>').
  CHECK(backward_message.find("(module '', the model's top level, train phase") != std::string::npos);
  bool found = false;
  for (const auto& e : dir.lines("dump/index.jsonl"))
    if (e.find("op")->string == "sqrt") {
      found = true;
      CHECK(e.find("module")->string == "");
    }
  CHECK(found);
}

TEST_CASE("audit: the meta-layer's repair counts match the tie example (docs/matrix-functions.md §8 item 7)") {
  // Σ = diag(3, 2, 2, 0, 0): exact ties 2 = 2 and, after the clamp, eps = eps: 4 entries of K̃.
  Tensor sigma = diag_embed(from_vector({3, 2, 2, 0, 0}, {1, 5}));
  Tensor g = triu(ones({1, 5, 5}, DType::Float64));
  for (SqrtMethod m : {SqrtMethod::Original, SqrtMethod::Pade, SqrtMethod::Trunc}) {
    audit::Config c;
    c.trace = true;
    c.ops = {std::string("sqrtm[") + sqrt_method_name(m) + "]"};
    AuditDir dir(c);
    MatrixSqrtOptions o;
    o.method = m;
    o.report = std::make_shared<MatfnReport>();
    Tensor s = sigma.clone().requires_grad_();
    sqrtm(s, o).backward(g);
    auto lines = dir.lines("trace.jsonl");
    REQUIRE(lines.size() == 2);
    const json::Value* fwd = lines[0].find("notes");
    REQUIRE(fwd != nullptr);
    CHECK(fwd->find("eig_at_clamp_floor")->number == 2);
    CHECK(fwd->find("eig_smallest_gap")->number == 0);
    const json::Value* notes = lines[1].find("notes");
    REQUIRE(notes != nullptr);
    const json::Value* plus = notes->find("repairs.K.+inf");
    const json::Value* minus = notes->find("repairs.K.-inf");
    if (m == SqrtMethod::Trunc) {
      CHECK(plus == nullptr);  // Trunc does not run Φ on K̃
    } else {
      REQUIRE(plus != nullptr);
      REQUIRE(minus != nullptr);
      if (m == SqrtMethod::Original) CHECK((plus->number == 4 && minus->number == 0));
      if (m == SqrtMethod::Pade) CHECK((plus->number == 0 && minus->number == 4));
    }
    CHECK(notes->find("grad_norm_out")->number > 0);
  }
}

TEST_CASE("audit: --dump writes a module's input, output and both gradients") {
  auto net = small_net();
  Tensor x = randn({2, 1, 5, 5});
  Tensor bn_out;
  {
    auto ref = small_net();
    bn_out = ref->children()[1].second->forward(ref->children()[0].second->forward(x));
  }
  audit::Config c;
  c.dump_modules = {"1"};
  AuditDir dir(c);
  sum(net->forward(x)).backward();
  auto index = dir.lines("dump/index.jsonl");
  std::map<std::string, std::string> files;
  for (const auto& e : index) files[e.find("role")->string] = e.find("file")->string;
  REQUIRE(files.count("input"));
  REQUIRE(files.count("output"));
  REQUIRE(files.count("grad_output"));
  REQUIRE(files.count("grad_input"));
  CHECK(to_vector(load_npy((dir.path / "audit" / "dump" / files["output"]).string())) == to_vector(bn_out));
  // relu then sum: the gradient of the module's output is 1 where the output is positive.
  auto go = to_vector(load_npy((dir.path / "audit" / "dump" / files["grad_output"]).string()));
  auto o = to_vector(bn_out);
  for (size_t i = 0; i < o.size(); ++i) CHECK(go[i] == (o[i] > 0 ? 1.0 : 0.0));
}

TEST_CASE("deterministic: training gives bit-identical weights with 1 and 2 threads") {
  auto train = [](int threads) {
    omp_set_num_threads(threads);
    set_blas_threads(1);  // what --deterministic does
    manual_seed(9);
    nn::ModelOptions o;
    o.num_classes = 3;
    o.small_stem = true;
    o.width = 0.125;
    o.head = "svd-pade";
    o.head_dim = 6;
    auto model = nn::make_model("resnet18", o);
    nn::Sgd opt(model->named_parameters(), {0.05, 0.9});
    Tensor x = randn({8, 3, 12, 12});
    Tensor y = randint(0, 3, {8});
    for (int s = 0; s < 3; ++s) {
      opt.zero_grad();
      cross_entropy(model->forward(x), y).backward();
      opt.step();
    }
    std::vector<std::vector<double>> w;
    for (const auto& [n, t] : model->state_dict()) w.push_back(to_vector(t));
    return w;
  };
  const int saved = omp_get_max_threads();
  auto one = train(1);
  auto two = train(2);
  omp_set_num_threads(saved);
  set_blas_threads(saved);
  CHECK(one == two);
}

TEST_CASE("audit: evaluation is not audited unless asked; every line says its phase") {
  for (bool audit_eval : {false, true}) {
    CAPTURE(audit_eval);
    auto net = small_net();
    audit::Config c;
    c.trace = true;
    c.audit_eval = audit_eval;
    c.dump_modules = {"1"};
    AuditDir dir(c);
    Tensor x = randn({2, 1, 5, 5});
    sum(net->forward(x)).backward();  // training
    {
      audit::PhaseScope eval(audit::Phase::Eval);
      NoGradGuard no_grad;
      net->forward(x);
      net->forward(x);
    }
    CHECK(audit::phase() == audit::Phase::Train);
    int64_t train = 0, eval = 0;
    for (const auto& line : dir.lines("trace.jsonl")) {
      const std::string phase = line.find("phase")->string;
      REQUIRE((phase == "train" || phase == "eval"));
      (phase == "train" ? train : eval)++;
    }
    CHECK(train > 0);
    // conv2d, batch_norm, relu per evaluation forward.
    CHECK(eval == (audit_eval ? 6 : 0));
    int64_t eval_dumps = 0;
    for (const auto& e : dir.lines("dump/index.jsonl")) eval_dumps += e.find("phase")->string == "eval";
    CHECK(eval_dumps == (audit_eval ? 4 : 0));  // input and output of module 1, twice
  }
}

TEST_CASE("audit: parameter gradients name their parameter and module; --dump writes parameters and gradients") {
  auto net = small_net();
  audit::Config c;
  c.trace = true;
  c.dump_modules = {"0"};
  AuditDir dir(c);
  audit::name_parameters(net->named_parameters());
  Tensor x = randn({2, 1, 5, 5});
  sum(net->forward(x)).backward();
  std::map<std::string, std::string> module_of;
  for (const auto& line : dir.lines("trace.jsonl")) {
    if (line.find("op")->string != "AccumulateGrad") continue;
    REQUIRE(line.find("parameter") != nullptr);
    module_of[line.find("parameter")->string] = line.find("module")->string;
  }
  CHECK(module_of == std::map<std::string, std::string>{
                         {"0.weight", "0"}, {"0.bias", "0"}, {"1.weight", "1"}, {"1.bias", "1"}});
  std::map<std::string, std::string> files;
  for (const auto& e : dir.lines("dump/index.jsonl")) files[e.find("role")->string] = e.find("file")->string;
  REQUIRE(files.count("weight"));
  REQUIRE(files.count("grad_weight"));
  REQUIRE(files.count("grad_bias"));
  const Tensor weight = net->named_parameters()[0].second;  // a copy of the handle: the list is a temporary
  CHECK(to_vector(load_npy((dir.path / "audit" / "dump" / files["weight"]).string())) == to_vector(weight));
  CHECK(to_vector(load_npy((dir.path / "audit" / "dump" / files["grad_weight"]).string())) == to_vector(weight.grad()));
}
