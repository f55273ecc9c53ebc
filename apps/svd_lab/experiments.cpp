// svd_lab experiment E1..E4: the numerical experiments of docs/matrix-functions.md, as tables a
// student can set beside the text, or CSV/JSON for a plot (--format; E1 and E2 also sweep).
//   E1  Taylor and Padé against 1/(1 − r) (§5.4, §5.5)
//   E2  close eigenvalues: entry (0,1) of G_Σ + G_Σᵀ as λ₂ -> 1 (§8 item 6)
//   E3  ties: K̃ for λ = [3, 2, 2, eps, eps], raw and after each rule's fix (§8 item 7)
//   E4  rank-deficient covariances of 7×7 and 13×13 maps with 256 channels (§2.1)
//   E5  the fast square roots' timing claim, relative: every rule on 64 SPD 48×48 matrices (§10)
#include <cmath>
#include <cstdio>

#include "apps/svd_lab/lab.h"
#include "apps/svd_lab/table.h"
#include "apps/timing.h"
#include "ops/matfn/k_rules.h"
#include "ops/matfn/repair.h"
#include "ops/ops.h"
#include "tensor/random.h"

namespace dsvd::lab {
namespace {

double k_entry(const Tensor& k, int64_t i, int64_t j) { return k.select(0, 0).select(0, i).select(0, j).item(); }

// `points` values of 1 − x spaced logarithmically from 1 − from to 1 − to (both in (0, 1)), as x.
std::vector<double> towards_one(double from, double to, int points, const char* what) {
  DSVD_CHECK(from > 0 && from < 1 && to > 0 && to < 1, what, ": the sweep's ends must lie in (0, 1), got ", from, " and ", to);
  DSVD_CHECK(points >= 2, what, ": --points must be >= 2, got ", points);
  std::vector<double> out;
  const double a = std::log10(1 - from), b = std::log10(1 - to);
  for (int i = 0; i < points; ++i) out.push_back(1 - std::pow(10.0, a + (b - a) * i / (points - 1)));
  return out;
}

void experiment_e1(const CommandLine& cli, Format format) {
  std::vector<double> rs = {0.5, 0.9, 0.99, 0.999, 1 - 1e-8, 1 - 1e-12, 1 - std::ldexp(1.0, -52), 1.0};
  std::vector<std::string> labels = {"0.5", "0.9", "0.99", "0.999", "1-1e-8", "1-1e-12", "1-2^-52", "1 (tie)"};
  if (cli.has("points") || cli.has("r-from") || cli.has("r-to")) {
    rs = towards_one(cli.get_double("r-from", 0.5), cli.get_double("r-to", 1 - 1e-12), cli.get_int("points", 50), "E1");
    labels.clear();
    for (double r : rs) {
      char buf[32];
      std::snprintf(buf, sizeof buf, "%.15g", r);
      labels.push_back(buf);
    }
  }
  cli.reject_unused();
  if (format == Format::Table)
    std::printf("E1: λmax·K̃ for the pair (λmax, λmin) = (1, r), against 1/(1 − r)   [docs/matrix-functions.md §5.4, §5.5]\n\n");
  Table t({{"r", "%s"}, {"1/(1-r)", "%.15g"}, {"taylor", "%.15g"}, {"taylor_rel_err", "%.2e"}, {"pade", "%.15g"},
           {"pade_rel_err", "%.2e"}});
  for (size_t i = 0; i < rs.size(); ++i) {
    const double r = rs[i];
    Tensor lambda = from_vector({1.0, r}, {1, 2});
    const double exact = 1.0 / (1.0 - r);
    const double taylor = k_entry(k_taylor(lambda), 0, 1), pade = k_entry(k_pade(lambda), 0, 1);
    auto rel = [&](double v) { return std::isinf(exact) ? NAN : std::fabs(v - exact) / exact; };
    t.add({labels[i], exact, taylor, rel(taylor), pade, rel(pade)});
  }
  t.print(format);
  if (format == Format::Table)
    std::printf("\nTaylor's error is r^101/(1−r) absolute (2.4e-5 relative at 0.9, 0.36 at 0.99, 0.90 at 0.999);\n"
                "Padé equals 1/(1−r) up to rounding (it is algebraically identical), finite for every r < 1, and\n"
                "−inf at a tie (Q(1) accumulates to exactly +0.0), which Φ₋ then replaces by the batch minimum.\n"
                "Sweep: --r-from A --r-to B --points N (1 − r spaced logarithmically), --format csv for a plot.\n");
}

void experiment_e2(const CommandLine& cli, Format format) {
  std::vector<double> l2s = {0.5, 0.9, 0.99, 0.999, 0.9999};
  if (cli.has("points") || cli.has("gap-from") || cli.has("gap-to")) {
    // The gap 1 − λ₂ from --gap-from down to --gap-to.
    for (double x : towards_one(1 - cli.get_double("gap-from", 0.5), 1 - cli.get_double("gap-to", 1e-4),
                                cli.get_int("points", 30), "E2"))
      l2s.push_back(x);
    l2s.erase(l2s.begin(), l2s.begin() + 5);
  }
  cli.reject_unused();
  if (format == Format::Table)
    std::printf("E2: Σ = R diag(1, λ₂) Rᵀ, R = [[0.6, 0.8], [−0.8, 0.6]], gradient 1 on y₀ = Q₀₀;\n"
                "    entry (0,1) of G_Σ + G_Σᵀ per rule   [docs/matrix-functions.md §8 item 6]\n\n");
  const char* rules[] = {"exact", "original", "trunc", "pade", "taylor", "pi-deflation", "newton"};
  std::vector<Table::Column> columns = {{"lambda2", "%g"}, {"gap", "%.3g"}};
  for (const char* r : rules) columns.push_back({r, "%.11g"});
  Table t(columns);
  Tensor rot = from_vector({0.6, 0.8, -0.8, 0.6}, {2, 2});
  Tensor g = from_vector({1, 0, 0, 0}, {1, 2, 2});
  for (double l2 : l2s) {
    Tensor sigma = matmul(mul(rot, from_vector({1.0, l2}, {2}).unsqueeze(0)), rot.t()).unsqueeze(0).contiguous();
    std::vector<Table::Cell> row = {l2, 1 - l2};
    for (const char* rule : rules) {
      MatrixSqrtOptions o;
      o.method = parse_sqrt_method(rule);
      Tensor leaf = sigma.clone().requires_grad_();
      sqrtm(leaf, o).backward(g);
      Tensor gs = leaf.grad();
      row.push_back(add(gs, gs.transpose(1, 2)).select(0, 0).select(0, 0).select(0, 1).item());
    }
    t.add(row);
  }
  t.print(format);
  if (format == Format::Table)
    std::printf("\nThe exact values (40 digits): 0.104187011926903, 0.0130779375610231, 0.00120992627357433,\n"
                "0.000120098485576720, 1.20009840855077e-05. Correct float64 rules agree to ~eps64/gap; Taylor is off\n"
                "by r^101/(1−r); PI with deflation (20 iterations) by a truncated series of its own; Newton (10\n"
                "Newton–Schulz iterations) is converged here (condition number <= 2).\n"
                "Sweep: --gap-from A --gap-to B --points N (1 − λ₂ spaced logarithmically), --format csv for a plot.\n");
}

void experiment_e3(const CommandLine& cli, Format format) {
  cli.reject_unused();
  if (format == Format::Table)
    std::printf("E3: K̃ for λ = [3, 2, 2, eps64, eps64] (one sample), raw and after the rule's fix   "
                "[docs/matrix-functions.md §8 item 7]\n\n");
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
  Table t({{"rule", "%s"}, {"K12_raw", "%.6g"}, {"K12_fixed", "%.6g"}, {"K34_raw", "%.6g"}, {"K34_fixed", "%.6g"},
           {"K01", "%.6g"}, {"K03", "%.6g"}});
  for (Rule& r : rules) {
    Tensor fixed = r.k.contiguous().clone();
    RepairCounts counts;
    if (r.fix) repair_infinities(fixed, "K", &counts);
    t.add({std::string(r.name), k_entry(r.k, 1, 2), k_entry(fixed, 1, 2), k_entry(r.k, 3, 4), k_entry(fixed, 3, 4),
           k_entry(fixed, 0, 1), k_entry(fixed, 0, 3)});
  }
  t.print(format);
  if (format == Format::Table)
    std::printf("\nOriginal: ties are +inf, replaced by the batch's largest finite K̃ (1 = 1/(3−2)). Trunc: +1e10.\n"
                "Taylor: 101/λ (50.5 and 4.5486e17), finite. Padé: −inf, replaced by the batch's most negative\n"
                "finite K̃ (−1). Untied entries are 1/(λi − λj) for all four.\n");
}

void experiment_e4(const CommandLine& cli, Format format) {
  const uint64_t seed = uint64_t(cli.get_int("seed", 0));
  cli.reject_unused();
  if (format == Format::Table)
    std::printf("E4: rank-deficient covariances: ReLU features (2, 256, H, W), M = H·W positions   "
                "[docs/matrix-functions.md §2.1]\n");
  Generator gen(seed);
  Table t({{"maps", "%s"}, {"rule", "%s"}, {"at_floor", "%.0f"}, {"repaired", "%.0f"}, {"max_abs_k", "%.4g"},
           {"grad_l2", "%.6g"}, {"vs_exact", "%.3e"}, {"time_ms", "%.1f"}});
  for (int side : {7, 13}) {
    Tensor x = relu(randn({2, 256, side, side}, DType::Float32, &gen));
    Tensor grad = randn({2, 256 * 257 / 2}, DType::Float32, &gen);
    MatrixSqrtOptions exact_options;
    exact_options.method = SqrtMethod::Exact;
    LayerRun exact = run_on_features(x, grad, exact_options, DType::Float64);
    const double exact_norm =
        std::sqrt(sum(mul(exact.grad_input.to(DType::Float64), exact.grad_input.to(DType::Float64))).item());
    for (SqrtMethod method : all_sqrt_methods()) {
      MatrixSqrtOptions o;
      o.method = method;
      o.report = std::make_shared<MatfnReport>();
      LayerRun r = method == SqrtMethod::Exact ? exact : run_on_features(x, grad, o, DType::Float64);
      int64_t at_floor = 0;
      if (r.report->eigenvalues.defined())
        for (double v : to_vector(r.report->eigenvalues)) at_floor += v == kEps64;
      Tensor d = sub(r.grad_input.to(DType::Float64), exact.grad_input.to(DType::Float64));
      t.add({std::to_string(side) + "x" + std::to_string(side), std::string(sqrt_method_name(method)), double(at_floor),
             double(r.report->repairs.total()), r.report->max_abs_k(),
             std::sqrt(sum(mul(r.grad_input.to(DType::Float64), r.grad_input.to(DType::Float64))).item()),
             std::sqrt(sum(mul(d, d)).item()) / exact_norm, r.forward_ms + r.backward_ms});
    }
  }
  t.print(format);
  if (format == Format::Table)
    std::printf("\n7x7 maps: M = 49, rank <= 48 of n = 256; 13x13: M = 169, rank <= 168.\n"
                "'at_floor': eigenvalues clamped to eps64 over the batch (the null space is n − rank per sample).\n"
                "'vs_exact': relative L2 difference of the features' gradient from the exact rule's. The rules\n"
                "disagree most on the null-space directions, where 1/(λi − λj) is undefined and each rule\n"
                "substitutes its own value; PI passes ~no gradient.\n");
}

void experiment_e5(const CommandLine& cli, Format format) {
  const std::string device_name = cli.get("device", "cpu");
  const int reps = cli.get_int("reps", 10);
  const DType dtype = dtype_option(cli, DType::Float32);
  cli.reject_unused();
  DSVD_CHECK(device_name == "cpu" || device_name == "cuda", "E5: --device must be cpu or cuda, got '", device_name, "'");
  DSVD_CHECK(reps >= 1, "E5: --reps must be >= 1, got ", reps);
  const Device device = device_name == "cuda" ? Device::cuda(0) : Device::cpu();
  if (format == Format::Table)
    std::printf("E5: forward + backward of the square root of 64 SPD 48×48 matrices, %s, %s, median of %d   "
                "[docs/matrix-functions.md §10]\n\n", dtype_name(dtype), device.str().c_str(), reps);
  Generator gen(1);
  Tensor a = randn({64, 48, 48}, dtype, &gen).to(device);
  Tensor spd = add(div(matmul(a, a.transpose(1, 2)), 48.0), mul(eye(48, dtype, device), 1e-2));
  Tensor up = randn({64, 48, 48}, dtype, &gen).to(device);
  std::vector<std::pair<std::string, double>> times;
  for (SqrtMethod m : all_sqrt_methods()) {
    MatrixSqrtOptions o;
    o.method = m;
    std::vector<double> t;
    for (int rep = 0; rep < reps + 2; ++rep) {
      Tensor leaf = spd.detach().requires_grad_();
      const double start = now_seconds();
      sqrtm(leaf, o).backward(up);
      (void)sum(leaf.grad()).item();  // waits for the device (a one-number copy to the host)
      if (rep >= 2) t.push_back((now_seconds() - start) * 1e3);
    }
    std::sort(t.begin(), t.end());
    times.emplace_back(sqrt_method_name(m), t[t.size() / 2]);
  }
  double mpa = 0;
  for (const auto& [name, ms] : times)
    if (name == "mpa-lya") mpa = ms;
  Table table({{"rule", "%s"}, {"ms", "%.3f"}, {"vs_mpa_lya", "%.2f"}});
  for (const auto& [name, ms] : times) table.add({name, ms, ms / mpa});
  table.print(format);
  if (format == Format::Table)
    std::printf("\nThe authors report (one GPU, PyTorch): SVD rules ≈ 83 ms, Newton–Schulz 10.4, MPA-Lya 3.25, MTP-Lya\n"
                "2.39 ms, i.e. SVD ≈ 26x MPA-Lya. vs_mpa_lya is the same ratio here; --device cuda on a GPU.\n");
}

}  // namespace

int command_experiment(const CommandLine& cli) {
  DSVD_CHECK(cli.positional().size() >= 2, "experiment: name one of E1, E2, E3, E4, E5");
  const std::string which = cli.positional()[1];
  const Format format = format_option(cli);
  if (which == "E1") experiment_e1(cli, format);
  else if (which == "E2") experiment_e2(cli, format);
  else if (which == "E3") experiment_e3(cli, format);
  else if (which == "E4") experiment_e4(cli, format);
  else if (which == "E5") experiment_e5(cli, format);
  else fail("experiment: unknown experiment '", which, "' (E1, E2, E3, E4 or E5)");
  return 0;
}

}  // namespace dsvd::lab
