// svd_lab compare: every rule on the same input, one table against the exact rule in float64.
#include <cmath>
#include <cstdio>
#include <sstream>

#include "apps/svd_lab/lab.h"
#include "apps/svd_lab/table.h"
#include "ops/matfn/covariance.h"
#include "ops/matfn/k_rules.h"
#include "ops/matfn/symeig.h"
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

std::vector<double> parse_spectrum(const std::string& text) {
  std::vector<double> out;
  std::stringstream in(text);
  std::string part;
  while (std::getline(in, part, ',')) {
    try {
      size_t used = 0;
      out.push_back(std::stod(part, &used));
      DSVD_CHECK(used == part.size(), "");
    } catch (...) {
      fail("--spectrum expects eigenvalues separated by commas, got '", text, "'");
    }
  }
  DSVD_CHECK(out.size() >= 2, "--spectrum needs at least two eigenvalues, got '", text, "'");
  return out;
}

// Σ = V diag(spectrum) Vᵀ (1, n, n) float64, V the eigenvectors of a random symmetric matrix.
Tensor matrix_with_spectrum(const std::vector<double>& spectrum, Generator& gen) {
  const int64_t n = int64_t(spectrum.size());
  Tensor a = randn({1, n, n}, DType::Float64, &gen);
  Tensor v = symeig_descending(add(a, a.transpose(1, 2))).vectors;
  Tensor l = from_vector(spectrum, {1, 1, n});
  return matmul(mul(v, l), v.transpose(1, 2)).contiguous();
}

}  // namespace

int command_compare(const CommandLine& cli) {
  const bool matrices = cli.has("input") || cli.has("spectrum");
  Generator gen(uint64_t(cli.get_int("seed", 0)));
  Tensor input;
  std::string source;
  if (cli.has("spectrum")) {
    source = "Σ with eigenvalues " + cli.get("spectrum");
    input = matrix_with_spectrum(parse_spectrum(cli.get("spectrum")), gen);
    input = mul(add(input, input.transpose(1, 2)), 0.5).contiguous();  // symmetric to the last bit
  } else if (cli.has("input")) {
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
  (void)cli.get("iters"), (void)cli.get("tol"), (void)cli.get("degree"), (void)cli.get("drop"), (void)cli.get("limit");
  const Format format = format_option(cli);
  cli.reject_unused();

  auto run = [&](const std::string& rule, DType dt) {
    MatrixSqrtOptions o = rule_options(cli, rule);
    return matrices ? run_on_matrices(input, grad, o, dt) : run_on_features(input, grad, o, dt);
  };
  LayerRun exact = run("exact", DType::Float64);
  // For matrices the raw ∂L/∂S conventions differ between rules; compare the symmetrised one.
  auto comparable = [&](const Tensor& g) { return matrices ? add(g, g.transpose(1, 2)) : g; };

  if (format == Format::Table) {
    std::printf("svd_lab compare: %s, %s, internal dtype %s, upstream gradient %s\n", source.c_str(),
                shape_str(input.sizes()).c_str(), dtype_name(dtype), cli.has("grad") ? cli.get("grad").c_str() : "random");
    std::printf("reference: the exact rule (Daleckii-Krein) in float64\n\n");
  }
  Table t({{"rule", "%s"}, {"forward_err", "%.3e"}, {"grad_rel_err", "%.3e"}, {"max_abs_k", "%.4g"}, {"at_floor", "%.0f"},
           {"repaired", "%.0f"}, {"time_ms", "%.2f"}});
  // The Σ the rules see, for the explanations of NaN results.
  Tensor sigma = input;
  if (!matrices) {
    NoGradGuard no_grad;
    CovarianceOptions cov;
    cov.dtype = dtype;
    sigma = covariance_pool(input, cov);
  }
  std::vector<std::string> notes;
  for (SqrtMethod m : all_sqrt_methods()) {
    std::string name = sqrt_method_name(m);
    if (!only.empty() && ("," + only + ",").find("," + name + ",") == std::string::npos) continue;
    LayerRun r = run(name, dtype);
    int64_t at_floor = 0;  // eigenvalues at the clamp floor ε over the batch
    if (r.report->eigenvalues.defined())
      for (double v : to_vector(r.report->eigenvalues)) at_floor += v <= clamp_floor(r.report->eigenvalues.dtype());
    t.add({name, relative_error(r.output, exact.output), relative_error(comparable(r.grad_input), comparable(exact.grad_input)),
           r.report->max_abs_k(), double(at_floor), double(r.report->repairs.total()), r.forward_ms + r.backward_ms});
    for (const auto& w : result_warnings(m, r, sigma)) notes.push_back(name + ": " + w.text);
  }
  t.print(format);
  if (format == Format::Table) {
    std::printf("\nforward_err: ‖y − y_exact‖/‖y_exact‖ (TopN, isqrt, mtp-lya and mpa-lya change the forward); grad_rel_err: the\n"
                "same for the gradient w.r.t. the input%s; at_floor: eigenvalues at the clamp\n"
                "floor over the batch; repaired: entries changed by the overflow fixes.\n",
                matrices ? " (symmetrised: G_S + G_Sᵀ)" : "");
    for (const auto& n : notes) std::printf("note: %s\n", n.c_str());
  } else {
    for (const auto& n : notes) std::fprintf(stderr, "note: %s\n", n.c_str());
  }
  return 0;
}

}  // namespace dsvd::lab
