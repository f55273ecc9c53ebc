// svd_lab compare: every rule on the same input, one table against the exact rule in float64.
#include <cmath>
#include <cstdio>
#include <sstream>

#include "apps/svd_lab/lab.h"
#include "ops/matfn/covariance.h"
#include "ops/ops.h"
#include "tensor/npy.h"
#include "tensor/random.h"

namespace dsvd::lab {
namespace {

double relative_error(const Tensor& a, const Tensor& reference) {
  Tensor d = sub(a.to(DType::Float64), reference.to(DType::Float64));
  double den = std::sqrt(sum(mul(reference.to(DType::Float64), reference.to(DType::Float64))).item());
  return std::sqrt(sum(mul(d, d)).item()) / (den > 0 ? den : 1.0);
}

Shape parse_shape(const std::string& text) {
  Shape s;
  std::stringstream in(text);
  std::string part;
  while (std::getline(in, part, ',')) {
    try {
      s.push_back(std::stoll(part));
    } catch (...) {
      fail("--random expects B,C,H,W, got '", text, "'");
    }
  }
  DSVD_CHECK(s.size() == 4, "--random expects four sizes B,C,H,W, got '", text, "'");
  return s;
}

}  // namespace

int command_compare(const CommandLine& cli) {
  const bool matrices = cli.has("input");
  Generator gen(uint64_t(cli.get_int("seed", 0)));
  Tensor input;
  std::string source;
  if (matrices) {
    source = cli.get("input");
    input = load_npy(source);
    check_matrices(input, source);
  } else if (cli.has("features")) {
    source = cli.get("features");
    input = load_npy(source);
    check_features(input, source);
    input = input.to(DType::Float32);
  } else {
    std::string shape = cli.get("random", "2,32,7,7");
    source = "random ReLU features " + shape;
    input = relu(randn(parse_shape(shape), DType::Float32, &gen));
  }
  const int64_t batch = input.size(0), n = input.size(1);
  const DType grad_dtype = matrices ? input.dtype() : DType::Float32;  // the output's dtype
  Tensor grad = cli.has("grad") ? checked_upstream(load_npy(cli.get("grad")), batch, n, cli.get("grad")).to(grad_dtype)
                                : randn({batch, n * (n + 1) / 2}, DType::Float32, &gen).to(grad_dtype);
  DType dtype = dtype_option(cli, matrices ? input.dtype() : DType::Float64);
  std::string only = cli.get("rules");
  if (!only.empty()) {
    std::stringstream names(only);
    std::string name;
    while (std::getline(names, name, ',')) parse_sqrt_method(name);  // throws on an unknown rule
  }
  (void)cli.get("iters"), (void)cli.get("degree"), (void)cli.get("drop"), (void)cli.get("limit");
  cli.reject_unused();

  auto run = [&](const std::string& rule, DType dt) {
    MatrixSqrtOptions o = rule_options(cli, rule);
    return matrices ? run_on_matrices(input, grad, o, dt) : run_on_features(input, grad, o, dt);
  };
  LayerRun exact = run("exact", DType::Float64);
  // For matrices the raw ∂L/∂S conventions differ between rules; compare the symmetrised one.
  auto comparable = [&](const Tensor& g) { return matrices ? add(g, g.transpose(1, 2)) : g; };

  std::printf("svd_lab compare: %s, %s, internal dtype %s, upstream gradient %s\n", source.c_str(),
              shape_str(input.sizes()).c_str(), dtype_name(dtype), cli.has("grad") ? cli.get("grad").c_str() : "random");
  std::printf("reference: the exact rule (Daleckii-Krein) in float64\n\n");
  std::printf("%-13s %14s %14s %12s %10s %10s\n", "rule", "forward err", "grad rel err", "max |K|", "repaired", "time ms");
  // The Σ the rules see, for the explanations of NaN results.
  Tensor sigma = input;
  if (!matrices) {
    NoGradGuard no_grad;
    CovarianceOptions cov;
    cov.dtype = dtype;
    sigma = covariance_pool(input, cov);
  }
  auto cell = [](double v) {
    char buf[32];
    if (std::isnan(v)) return std::string("NaN");
    std::snprintf(buf, sizeof buf, "%.3e", v);
    return std::string(buf);
  };
  std::vector<std::string> notes;
  for (SqrtMethod m : all_sqrt_methods()) {
    std::string name = sqrt_method_name(m);
    if (!only.empty() && ("," + only + ",").find("," + name + ",") == std::string::npos) continue;
    LayerRun r = run(name, dtype);
    std::printf("%-13s %14s %14s %12.4g %10lld %10.2f\n", name.c_str(), cell(relative_error(r.output, exact.output)).c_str(),
                cell(relative_error(comparable(r.grad_input), comparable(exact.grad_input))).c_str(), r.report->max_abs_k,
                (long long)r.report->repairs.total(), r.forward_ms + r.backward_ms);
    for (const auto& w : result_warnings(m, r, sigma)) notes.push_back(name + ": " + w);
  }
  std::printf("\nforward err: ‖y − y_exact‖/‖y_exact‖ (only TopN and isqrt change the forward); grad rel err: the\n"
              "same for the gradient w.r.t. the input%s; repaired: entries changed by the overflow fixes.\n",
              matrices ? " (symmetrised: G_S + G_Sᵀ)" : "");
  for (const auto& n : notes) std::printf("note: %s\n", n.c_str());
  return 0;
}

}  // namespace dsvd::lab
