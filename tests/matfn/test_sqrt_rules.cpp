// The table of square-root rules (ops/matfn/sqrt_rule.h) says what each rule does: these tests hold
// every entry to its claims. Each SqrtMethod has one entry with one backward form; the options an
// entry lists change its result and the others do not; the repair sites it lists are exactly the
// report's keys after a step of covariance pooling; the audit notes it lists are on its trace lines.
#include <filesystem>
#include <set>

#include "ops/matfn/covariance.h"
#include "ops/matfn/sqrt_rule.h"
#include "ops/matfn/symeig.h"
#include "tests/autograd/audit_dir.h"
#include "tests/test_util.h"

using namespace dsvd;

namespace {

// Σ = V diag(λ) Vᵀ with distinct eigenvalues 0.3..2.1 (gaps 0.3 < 1) and a random orthogonal V.
Tensor spd_batch(int64_t batch, int64_t n) {
  manual_seed(11);
  Tensor a = randn({batch, n, n}, DType::Float64);
  Tensor q = symeig_descending(add(a, a.transpose(1, 2))).vectors;  // orthogonal
  Tensor lambda = mul(add(arange(0.0, double(n), 1.0, DType::Float64), 1.0), 0.3);
  return matmul(mul(q, lambda.unsqueeze(0).unsqueeze(1)), q.transpose(1, 2));
}

struct Result {
  std::vector<double> out, grad;
};

Result run(const Tensor& sigma, const MatrixSqrtOptions& options) {
  Tensor s = sigma.clone().requires_grad_();
  Tensor q = sqrtm(s, options);
  manual_seed(5);
  Tensor g = randn(q.sizes(), DType::Float64);
  sum(mul(q, g)).backward();
  return {to_vector(q), to_vector(s.grad())};
}

// One option set to a value other than its default, by name.
void perturb(MatrixSqrtOptions& o, const std::string& name) {
  if (name == "topn_drop") o.topn_drop = 2;
  else if (name == "taylor_degree") o.taylor_degree = 3;
  else if (name == "trunc_limit") o.trunc_limit = 0.5;
  else if (name == "pi_iterations") o.pi_iterations = 2;
  else if (name == "newton_iterations") o.newton_iterations = 2;
  else if (name == "isqrt_iterations") o.isqrt_iterations = 2;
  else if (name == "lya_iterations") o.lya_iterations = 2;
  else if (name == "lya_tolerance") o.lya_tolerance = 0.9;
  else FAIL("the test does not know option '" << name << "'");
}

// One step of covariance pooling by `method` (forward and backward of the sum) with a report
// attached, as train_imagenet runs it; returns the options, the report in them.
CovariancePoolingOptions pooling_step(const Tensor& features, SqrtMethod method) {
  CovariancePoolingOptions o;
  o.sqrt.method = method;
  o.sqrt.report = std::make_shared<MatfnReport>();
  Tensor x = features.clone().requires_grad_();
  sum(covariance_sqrt_pooling(x, o)).backward();
  return o;
}

const std::vector<std::string> kOptionNames = {"topn_drop",         "taylor_degree",    "trunc_limit",
                                               "pi_iterations",     "newton_iterations", "isqrt_iterations",
                                               "lya_iterations",    "lya_tolerance"};

}  // namespace

TEST_CASE("sqrt rules: one entry per method, in order, each with exactly one backward form and its file") {
  const auto& rules = sqrt_rules();
  REQUIRE(rules.size() == size_t(SqrtMethod::Seb) + 1);
  std::set<std::string> names;
  for (size_t i = 0; i < rules.size(); ++i) {
    const SqrtRule& r = *rules[i];
    CAPTURE(std::string(r.name));
    CHECK(size_t(r.method) == i);
    CHECK(names.insert(r.name).second);
    CHECK((r.k_builder != nullptr) != (r.backward != nullptr));
    CHECK(bool(r.forward));
    CHECK(std::filesystem::exists(test::repo_root() + "/" + r.file));
    CHECK(parse_sqrt_method(r.name) == r.method);
    CHECK(parse_sqrt_method(std::string("svd-") + r.name) == r.method);
    for (const auto& o : r.options) CHECK(std::find(kOptionNames.begin(), kOptionNames.end(), o) != kOptionNames.end());
  }
  CHECK_THROWS_WITH_AS(parse_sqrt_method("svd-cholesky"), doctest::Contains("valid: original, trunc, topn"), Error);
}

TEST_CASE("sqrt rules: the options an entry lists change its result, the others leave it bit for bit") {
  const Tensor sigma = spd_batch(2, 6);
  for (const SqrtRule* rule : sqrt_rules()) {
    MatrixSqrtOptions base;
    base.method = rule->method;
    const Result reference = run(sigma, base);
    for (const auto& option : kOptionNames) {
      CAPTURE(std::string(rule->name));
      CAPTURE(option);
      MatrixSqrtOptions changed = base;
      perturb(changed, option);
      const Result r = run(sigma, changed);
      const bool listed = std::find(rule->options.begin(), rule->options.end(), option) != rule->options.end();
      const bool same = r.out == reference.out && r.grad == reference.grad;
      CHECK(same != listed);
    }
  }
}

TEST_CASE("sqrt rules: the repair sites an entry lists are the report's keys after covariance pooling") {
  // 6 channels, 4 positions: rank <= 3, so the clamp makes ties and the K̃ rules repair.
  manual_seed(2);
  Tensor features = randn({2, 6, 2, 2});
  for (const SqrtRule* rule : sqrt_rules()) {
    CAPTURE(std::string(rule->name));
    const CovariancePoolingOptions o = pooling_step(features, rule->method);
    std::set<std::string> sites;
    for (const auto& [key, count] : o.sqrt.report->repairs.read()) sites.insert(key.substr(0, key.find('.')));
    CHECK(sites == std::set<std::string>(rule->repair_sites.begin(), rule->repair_sites.end()));
    // Ties make K̃ infinite for these three (Taylor and Trunc stay finite): Φ must have acted.
    if (rule->method == SqrtMethod::Original || rule->method == SqrtMethod::TopN || rule->method == SqrtMethod::Pade)
      CHECK(o.sqrt.report->repairs.total() > 0);
    CHECK(o.sqrt.report->backward_calls == 1);
  }
}

// On a GPU a read of a tensor value waits for the device; a training step's head must not make
// one (the repairs count on the device, the audit reads only when on). Every rule, forward and
// backward of covariance pooling with a report attached, as train_imagenet runs it.
TEST_CASE("sqrt rules: covariance pooling reads no tensor value back to the host, whatever the rule") {
  manual_seed(3);
  Tensor features = randn({2, 6, 2, 2});
  for (const SqrtRule* rule : sqrt_rules()) {
    CAPTURE(std::string(rule->name));
    const uint64_t before = host_value_reads();
    pooling_step(features, rule->method);
    CHECK(host_value_reads() - before == 0);
  }
}

TEST_CASE("sqrt rules: the audit notes an entry lists are on its trace lines, with the gradient norms") {
  const Tensor sigma = spd_batch(2, 5);
  for (const SqrtRule* rule : sqrt_rules()) {
    CAPTURE(std::string(rule->name));
    audit::Config c;
    c.trace = true;
    c.ops = {std::string("sqrtm[") + rule->name + "]"};
    testing::AuditDir dir(c);
    MatrixSqrtOptions o;
    o.method = rule->method;
    Tensor s = sigma.clone().requires_grad_();
    sum(sqrtm(s, o)).backward();
    auto lines = dir.lines("trace.jsonl");
    REQUIRE(lines.size() == 2);
    std::set<std::string> noted;
    for (const auto& line : lines)
      if (const json::Value* notes = line.find("notes"))
        for (const auto& member : notes->object) noted.insert(member.first);
    for (const auto& note : rule->audit_notes) CHECK_MESSAGE(noted.count(note) == 1, "missing note " << note);
    CHECK(noted.count("grad_norm_in") == 1);
    CHECK(noted.count("grad_norm_out") == 1);
  }
}

TEST_CASE("sqrt rules: saved tensors are found by name, and a wrong name says which node and name") {
  MatrixSqrtOptions o;
  o.method = SqrtMethod::Pade;
  Tensor s = spd_batch(1, 3).requires_grad_();
  Tensor q = sqrtm(s, o);
  auto* node = dynamic_cast<FunctionNode*>(q.grad_fn().get());
  REQUIRE(node != nullptr);
  CHECK(node->saved_tensor("eigenvalues").sizes() == Shape{1, 3});
  CHECK_THROWS_WITH_AS(node->saved_tensor("eigenvalue"),
                       doctest::Contains("node 'sqrtm[pade]': no saved tensor named 'eigenvalue'"), Error);
}
