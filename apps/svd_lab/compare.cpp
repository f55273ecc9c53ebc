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

// One input of a comparison: matrices Σ (B, n, n), or features (B, C, H, W) for the whole layer.
struct Input {
  std::string name;
  Tensor tensor;
  bool matrices = true;
};

// The four kinds of spectrum the paper studies, 32×32 (float64): well conditioned, ill conditioned,
// rank-deficient as covariance pooling makes them (ReLU features with fewer positions than
// channels), and exact ties (a diagonal Σ, whose eigendecomposition is exact).
std::vector<Input> paper_spectra(Generator& gen) {
  const int64_t n = 32;
  std::vector<double> well, ill, tied;
  for (int64_t k = 0; k < n; ++k) {
    well.push_back(std::pow(10.0, -double(k) / double(n - 1)));      // 1 .. 0.1: condition 10
    ill.push_back(std::pow(10.0, -8.0 * double(k) / double(n - 1)));  // 1 .. 1e-8: condition 1e8
    tied.push_back(1.0 + double(k / 4));                              // 8 values, each 4 times
  }
  auto symmetric = [](Tensor t) { return mul(add(t, t.transpose(1, 2)), 0.5).contiguous(); };
  Tensor features = relu(randn({1, n, 4, 4}, DType::Float32, &gen));  // 16 positions: rank ≤ 15
  return {{"well-conditioned (λ 1..0.1)", symmetric(matrix_with_spectrum(well, gen)), true},
          {"ill-conditioned (λ 1..1e-8)", symmetric(matrix_with_spectrum(ill, gen)), true},
          {"rank-deficient (features 32x4x4)", features, false},
          {"exact ties (diagonal, 8 values x 4)", diag_embed(from_vector(tied, {1, n})), true}};
}

}  // namespace

int command_compare(const CommandLine& cli) {
  Generator gen(uint64_t(cli.get_int("seed", 0)));
  (void)cli.get("dtype");  // read per input (dtype_option)
  std::vector<Input> inputs;
  const std::string spectra = cli.get("spectra");
  if (!spectra.empty()) {
    DSVD_CHECK(spectra == "paper", "--spectra must be paper (the four kinds of the paper), got '", spectra, "'");
    DSVD_CHECK(!cli.has("input") && !cli.has("spectrum") && !cli.has("features") && !cli.has("random") && !cli.has("grad"),
               "--spectra paper makes its own inputs and upstream gradients: drop --input, --spectrum, --features, "
               "--random and --grad");
    inputs = paper_spectra(gen);
  } else if (cli.has("spectrum")) {
    Tensor m = matrix_with_spectrum(parse_spectrum(cli.get("spectrum")), gen);
    inputs.push_back({"Σ with eigenvalues " + cli.get("spectrum"), mul(add(m, m.transpose(1, 2)), 0.5).contiguous(), true});
  } else if (cli.has("input")) {
    Tensor m = load_npy(cli.get("input"));
    check_matrices(m, cli.get("input"));
    inputs.push_back({cli.get("input"), m, true});
  } else if (cli.has("features")) {
    Tensor x = load_npy(cli.get("features"));
    check_features(x, cli.get("features"));
    inputs.push_back({cli.get("features"), x.to(DType::Float32), false});
  } else {
    std::string shape = cli.get("random", "2,32,7,7");
    inputs.push_back({"random ReLU features " + shape, relu(randn(parse_shape(shape), DType::Float32, &gen)), false});
  }
  std::string only = cli.get("rules");
  if (!only.empty()) {
    std::stringstream names(only);
    std::string name;
    while (std::getline(names, name, ',')) parse_sqrt_method(name);  // throws on an unknown rule
  }
  const std::string grad_path = cli.get("grad");
  (void)cli.get("iters"), (void)cli.get("tol"), (void)cli.get("degree"), (void)cli.get("drop"), (void)cli.get("limit");
  const Format format = format_option(cli);
  cli.reject_unused();
  const bool several = inputs.size() > 1;

  std::vector<Table::Column> columns = {{"rule", "%s"},          {"forward_err", "%.3e"}, {"grad_rel_err", "%.3e"},
                                        {"max_abs_k", "%.4g"},   {"at_floor", "%.0f"},    {"repaired", "%.0f"},
                                        {"time_ms", "%.2f"}};
  if (several) columns.insert(columns.begin(), {"spectrum", "%s"});
  Table t(columns);
  std::vector<std::string> notes;
  for (const Input& in : inputs) {
    const Tensor& input = in.tensor;
    const bool matrices = in.matrices;
    const int64_t batch = input.size(0), n = input.size(1);
    const DType grad_dtype = matrices ? input.dtype() : DType::Float32;  // the output's dtype
    Tensor grad = !grad_path.empty() ? checked_upstream(load_npy(grad_path), batch, n, grad_path).to(grad_dtype)
                                     : randn({batch, n * (n + 1) / 2}, DType::Float32, &gen).to(grad_dtype);
    const DType dtype = dtype_option(cli, matrices ? input.dtype() : DType::Float64);
    auto run = [&](const std::string& rule, DType dt) {
      MatrixSqrtOptions o = rule_options(cli, rule);
      return matrices ? run_on_matrices(input, grad, o, dt) : run_on_features(input, grad, o, dt);
    };
    LayerRun exact = run("exact", DType::Float64);
    // For matrices the raw ∂L/∂S conventions differ between rules; compare the symmetrised one.
    auto comparable = [&](const Tensor& g) { return matrices ? add(g, g.transpose(1, 2)) : g; };
    if (format == Format::Table && !several) {
      std::printf("svd_lab compare: %s, %s, internal dtype %s, upstream gradient %s\n", in.name.c_str(),
                  shape_str(input.sizes()).c_str(), dtype_name(dtype), grad_path.empty() ? "random" : grad_path.c_str());
      std::printf("reference: the exact rule (Daleckii-Krein) in float64\n\n");
    }
    // The Σ the rules see, for the explanations of NaN results.
    Tensor sigma = input;
    if (!matrices) {
      NoGradGuard no_grad;
      CovarianceOptions cov;
      cov.dtype = dtype;
      sigma = covariance_pool(input, cov);
    }
    for (SqrtMethod m : all_sqrt_methods()) {
      std::string name = sqrt_method_name(m);
      if (!only.empty() && ("," + only + ",").find("," + name + ",") == std::string::npos) continue;
      if (!is_square_root(m)) continue;  // seb: not a square root, nothing to compare with
      LayerRun r = run(name, dtype);
      int64_t at_floor = 0;  // eigenvalues at the clamp floor ε over the batch
      if (r.report->eigenvalues.defined())
        for (double v : to_vector(r.report->eigenvalues)) at_floor += v <= clamp_floor(r.report->eigenvalues.dtype());
      std::vector<Table::Cell> row = {name, relative_error(r.output, exact.output),
                                      relative_error(comparable(r.grad_input), comparable(exact.grad_input)),
                                      r.report->max_abs_k(), double(at_floor), double(r.report->repairs.total()),
                                      r.forward_ms + r.backward_ms};
      if (several) row.insert(row.begin(), in.name);
      t.add(row);
      for (const auto& w : result_warnings(m, r, sigma)) notes.push_back((several ? in.name + ", " : "") + name + ": " + w.text);
    }
  }
  if (format == Format::Table && several)
    std::printf("svd_lab compare --spectra paper: the four kinds of spectrum of the paper, n = 32, internal dtype float64,\n"
                "random upstream gradients; reference: the exact rule (Daleckii-Krein) in float64\n\n");
  t.print(format);
  if (format == Format::Table) {
    std::printf("\nforward_err: ‖y − y_exact‖/‖y_exact‖ (TopN, isqrt, mtp-lya and mpa-lya change the forward); grad_rel_err: the\n"
                "same for the gradient w.r.t. the input (for matrices symmetrised: G_S + G_Sᵀ); at_floor: eigenvalues at\n"
                "the clamp floor over the batch; repaired: entries changed by the overflow fixes. seb is not a square\n"
                "root and is not compared.\n");
    for (const auto& n : notes) std::printf("note: %s\n", n.c_str());
  } else {
    for (const auto& n : notes) std::fprintf(stderr, "note: %s\n", n.c_str());
  }
  return 0;
}

}  // namespace dsvd::lab
