// svd_lab experiment E1..E4: the numerical experiments of docs/matrix-functions.md, printed as tables
// a student can set beside the text.
//   E1  Taylor and Padé against 1/(1 − r) (§5.4, §5.5)
//   E2  close eigenvalues: entry (0,1) of G_Σ + G_Σᵀ as λ₂ -> 1 (§8 item 6)
//   E3  ties: K̃ for λ = [3, 2, 2, eps, eps], raw and after each rule's fix (§8 item 7)
//   E4  rank-deficient covariances of 7×7 and 13×13 maps with 256 channels (§2.1)
#include <cmath>
#include <cstdio>

#include "apps/svd_lab/lab.h"
#include "ops/matfn/k_rules.h"
#include "ops/matfn/repair.h"
#include "ops/ops.h"
#include "tensor/random.h"

namespace dsvd::lab {
namespace {

double k_entry(const Tensor& k, int64_t i, int64_t j) { return k.select(0, 0).select(0, i).select(0, j).item(); }

void experiment_e1() {
  std::printf("E1: λmax·K̃ for the pair (λmax, λmin) = (1, r), against 1/(1 − r)   [§5.4, §5.5]\n\n");
  std::printf("%-14s %22s %22s %10s %22s %10s\n", "r", "1/(1-r)", "Taylor (degree 100)", "rel err", "Pade [50/50]",
              "rel err");
  const double rs[] = {0.5, 0.9, 0.99, 0.999, 1 - 1e-8, 1 - 1e-12, 1 - std::ldexp(1.0, -52), 1.0};
  const char* labels[] = {"0.5", "0.9", "0.99", "0.999", "1-1e-8", "1-1e-12", "1-2^-52", "1 (tie)"};
  for (size_t i = 0; i < std::size(rs); ++i) {
    double r = rs[i];
    Tensor lambda = from_vector({1.0, r}, {1, 2});
    double exact = 1.0 / (1.0 - r);
    double taylor = k_entry(k_taylor(lambda), 0, 1), pade = k_entry(k_pade(lambda), 0, 1);
    auto rel = [&](double v) { return std::isinf(exact) ? NAN : std::fabs(v - exact) / exact; };
    std::printf("%-14s %22.15g %22.15g %10.2e %22.15g %10.2e\n", labels[i], exact, taylor, rel(taylor), pade, rel(pade));
  }
  std::printf("\nTaylor's error is r^101/(1−r) absolute (2.4e-5 relative at 0.9, 0.36 at 0.99, 0.90 at 0.999);\n"
              "Padé equals 1/(1−r) up to rounding (it is algebraically identical), finite for every r < 1, and\n"
              "−inf at a tie (Q(1) accumulates to exactly +0.0), which Φ₋ then replaces by the batch minimum.\n");
}

void experiment_e2() {
  std::printf("E2: Σ = R diag(1, λ₂) Rᵀ, R = [[0.6, 0.8], [−0.8, 0.6]], gradient 1 on y₀ = Q₀₀;\n"
              "    entry (0,1) of G_Σ + G_Σᵀ per rule   [§8 item 6]\n\n");
  const char* rules[] = {"exact", "original", "trunc", "pade", "taylor", "pi-deflation", "newton"};
  std::printf("%-8s", "λ₂");
  for (const char* r : rules) std::printf(" %16s", r);
  std::printf("\n");
  Tensor rot = from_vector({0.6, 0.8, -0.8, 0.6}, {2, 2});
  Tensor g = from_vector({1, 0, 0, 0}, {1, 2, 2});
  for (double l2 : {0.5, 0.9, 0.99, 0.999, 0.9999}) {
    Tensor sigma = matmul(mul(rot, from_vector({1.0, l2}, {2}).unsqueeze(0)), rot.t()).unsqueeze(0).contiguous();
    std::printf("%-8g", l2);
    for (const char* rule : rules) {
      MatrixSqrtOptions o;
      o.method = parse_sqrt_method(rule);
      Tensor leaf = sigma.clone().requires_grad_();
      sqrtm(leaf, o).backward(g);
      Tensor gs = leaf.grad();
      std::printf(" %16.11g", add(gs, gs.transpose(1, 2)).select(0, 0).select(0, 0).select(0, 1).item());
    }
    std::printf("\n");
  }
  std::printf("\nThe exact values (40 digits): 0.104187011926903, 0.0130779375610231, 0.00120992627357433,\n"
              "0.000120098485576720, 1.20009840855077e-05. Correct float64 rules agree to ~eps64/gap; Taylor is off\n"
              "by r^101/(1−r); PI with deflation (20 iterations) by a truncated series of its own; Newton (10\n"
              "Newton–Schulz iterations) is converged here (condition number <= 2).\n");
}

void experiment_e3() {
  std::printf("E3: K̃ for λ = [3, 2, 2, eps64, eps64] (one sample), raw and after the rule's fix   [§8 item 7]\n\n");
  Tensor lambda = from_vector({3, 2, 2, kEps64, kEps64}, {1, 5});
  struct Rule {
    const char* name;
    Tensor k;
    bool fix;
  };
  Rule rules[] = {{"original", k_original(lambda), true},
                  {"trunc", k_trunc(lambda), false},
                  {"taylor", k_taylor(lambda), true},
                  {"pade", k_pade(lambda), true}};
  std::printf("%-10s %14s %14s %14s %14s %14s %14s\n", "rule", "K12 raw", "K12 fixed", "K34 raw", "K34 fixed", "K01",
              "K03");
  for (Rule& r : rules) {
    Tensor fixed = r.k.contiguous().clone();
    RepairCounts counts;
    if (r.fix) repair_infinities(fixed, "K", &counts);
    std::printf("%-10s %14.6g %14.6g %14.6g %14.6g %14.6g %14.6g\n", r.name, k_entry(r.k, 1, 2), k_entry(fixed, 1, 2),
                k_entry(r.k, 3, 4), k_entry(fixed, 3, 4), k_entry(fixed, 0, 1), k_entry(fixed, 0, 3));
  }
  std::printf("\nOriginal: ties are +inf, replaced by the batch's largest finite K̃ (1 = 1/(3−2)). Trunc: +1e10.\n"
              "Taylor: 101/λ (50.5 and 4.5486e17), finite. Padé: −inf, replaced by the batch's most negative\n"
              "finite K̃ (−1). Untied entries are 1/(λi − λj) for all four.\n");
}

void experiment_e4(uint64_t seed) {
  std::printf("E4: rank-deficient covariances: ReLU features (2, 256, H, W), M = H·W positions   [§2.1]\n");
  Generator gen(seed);
  for (int side : {7, 13}) {
    const int64_t m = side * side;
    Tensor x = relu(randn({2, 256, side, side}, DType::Float32, &gen));
    Tensor grad = randn({2, 256 * 257 / 2}, DType::Float32, &gen);
    std::printf("\n%dx%d maps: M = %lld, rank <= %lld of n = 256\n", side, side, (long long)m, (long long)(m - 1));
    std::printf("%-13s %12s %12s %12s %14s %12s %10s\n", "rule", "at floor", "repaired", "max |K|", "|grad| (L2)",
                "vs exact", "time ms");
    MatrixSqrtOptions exact_options;
    exact_options.method = SqrtMethod::Exact;
    LayerRun exact = run_on_features(x, grad, exact_options, DType::Float64);
    for (SqrtMethod method : all_sqrt_methods()) {
      MatrixSqrtOptions o;
      o.method = method;
      o.report = std::make_shared<MatfnReport>();
      LayerRun r = method == SqrtMethod::Exact ? exact : run_on_features(x, grad, o, DType::Float64);
      int64_t at_floor = 0;
      if (r.report->eigenvalues.defined())
        for (double v : to_vector(r.report->eigenvalues)) at_floor += v == kEps64;
      double norm = std::sqrt(sum(mul(r.grad_input.to(DType::Float64), r.grad_input.to(DType::Float64))).item());
      std::printf("%-13s %12lld %12lld %12.4g %14.6g", sqrt_method_name(method), (long long)at_floor,
                  (long long)r.report->repairs.total(), r.report->max_abs_k, norm);
      if (method != SqrtMethod::Exact) {
        Tensor d = sub(r.grad_input.to(DType::Float64), exact.grad_input.to(DType::Float64));
        double en = std::sqrt(sum(mul(exact.grad_input.to(DType::Float64), exact.grad_input.to(DType::Float64))).item());
        std::printf(" %12.3e", std::sqrt(sum(mul(d, d)).item()) / en);
      } else {
        std::printf(" %12s", "0");
      }
      std::printf(" %10.1f\n", r.forward_ms + r.backward_ms);
    }
  }
  std::printf("\n'at floor': eigenvalues clamped to eps64 over the batch (the null space is n − rank per sample).\n"
              "'vs exact': relative L2 difference of the features' gradient from the exact rule's. The rules\n"
              "disagree most on the null-space directions, where 1/(λi − λj) is undefined and each rule\n"
              "substitutes its own value; PI passes ~no gradient.\n");
}

}  // namespace

int command_experiment(const CommandLine& cli) {
  DSVD_CHECK(cli.positional().size() >= 2, "experiment: name one of E1, E2, E3, E4");
  std::string which = cli.positional()[1];
  uint64_t seed = uint64_t(cli.get_int("seed", 0));
  cli.reject_unused();
  if (which == "E1") experiment_e1();
  else if (which == "E2") experiment_e2();
  else if (which == "E3") experiment_e3();
  else if (which == "E4") experiment_e4(seed);
  else fail("experiment: unknown experiment '", which, "' (E1, E2, E3 or E4)");
  return 0;
}

}  // namespace dsvd::lab
