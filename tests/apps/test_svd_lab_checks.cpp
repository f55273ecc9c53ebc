// svd_lab's checks of what a student feeds it: indefinite input (warned about, refused with
// --strict), NaN results with their cause (exit 1), and the float64 path exact end to end against
// an independent Daleckii–Krein computation (LAPACK's QR-based dsyev and plain loops).
#include <lapacke.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "apps/svd_lab/lab.h"
#include "nn/json.h"
#include "ops/ops.h"
#include "tensor/npy.h"
#include "tests/apps/svd_lab_test_util.h"
#include "tests/test_util.h"

using namespace dsvd;
using namespace dsvd::test;
namespace fs = std::filesystem;

namespace {

Tensor diagonal(const std::vector<double>& d) {
  const int64_t n = int64_t(d.size());
  std::vector<double> m(size_t(n * n), 0.0);
  for (int64_t i = 0; i < n; ++i) m[size_t(i * n + i)] = d[size_t(i)];
  return from_vector(m, {1, n, n});
}

}  // namespace

TEST_CASE("svd_lab: an indefinite matrix is used through |λ| with a warning naming it; --strict refuses it") {
  LabDir d("svd_lab_checks");
  save_npy(d / "s.npy", diagonal({1, -1, 0.5, 0.25}));
  save_npy(d / "g.npy", ones({1, 10}, DType::Float64));
  MatrixSqrtOptions o = lab::rule_options(CommandLine(0, nullptr), "pade");
  lab::LayerRun run = lab::run_on_matrices(diagonal({1, -1, 0.5, 0.25}), ones({1, 10}, DType::Float64), o, DType::Float64);
  auto warnings = lab::result_warnings(SqrtMethod::Pade, run, diagonal({1, -1, 0.5, 0.25}));
  REQUIRE(warnings.size() == 1);
  CHECK(warnings[0].text.find("sample 0 is not positive semi-definite: eigenvalue -1;") != std::string::npos);
  // |S|^½: the output's diagonal is √|λ|.
  CHECK(to_vector(run.output)[4] == doctest::Approx(1.0));  // (1,1) of the 4×4 root, at index 4 of triu
  CHECK(run_svd_lab_matrix({"--input", d / "s.npy", "--grad", d / "g.npy", "--rule", "pade", "--out", d / "a"}) == 0);
  CHECK(fs::exists(d / "a/output.npy"));
  CHECK_THROWS_WITH_AS(run_svd_lab_matrix({"--input", d / "s.npy", "--grad", d / "g.npy", "--rule", "pade", "--strict", "--out", d / "b"}),
                       doctest::Contains("not positive semi-definite: eigenvalue -1"), Error);
  CHECK(!fs::exists(d / "b/output.npy"));
  // A positive semi-definite matrix with rounding-level negative eigenvalues is not flagged.
  Tensor x = randn({1, 5, 3}, DType::Float64);
  Tensor psd = matmul(x, x.transpose(1, 2));  // rank 3 of 5: two eigenvalues ~ ±1e-16
  lab::LayerRun quiet = lab::run_on_matrices(psd, ones({1, 15}, DType::Float64), o, DType::Float64);
  CHECK(lab::result_warnings(SqrtMethod::Pade, quiet, psd).empty());
}

TEST_CASE("svd_lab: Newton–Schulz on a zero matrix gives NaN, says why, and exits 1") {
  LabDir d("svd_lab_checks");
  save_npy(d / "z.npy", zeros({1, 3, 3}, DType::Float64));
  save_npy(d / "g.npy", ones({1, 3, 3}, DType::Float64));
  for (const char* rule : {"isqrt", "newton"}) {
    CAPTURE(rule);
    CHECK(run_svd_lab_matrix({"--input", d / "z.npy", "--grad", d / "g.npy", "--rule", rule, "--out", d / rule}) == 1);
    MatrixSqrtOptions o = lab::rule_options(CommandLine(0, nullptr), rule);
    lab::LayerRun run = lab::run_on_matrices(zeros({1, 3, 3}, DType::Float64), ones({1, 3, 3}, DType::Float64), o,
                                             DType::Float64, true);
    auto warnings = lab::result_warnings(parse_sqrt_method(rule), run, zeros({1, 3, 3}, DType::Float64));
    REQUIRE(!warnings.empty());
    CHECK(warnings[0].text.find("Sample 0 has trace 0: Newton–Schulz divides Σ by its trace, and 0/0 is NaN") != std::string::npos);
  }
  // The SVD rules take it to √ε·I without a word.
  CHECK(run_svd_lab_matrix({"--input", d / "z.npy", "--grad", d / "g.npy", "--rule", "pade", "--out", d / "p"}) == 0);
}

TEST_CASE("svd_lab matrix --rule exact in float64 equals an independent Daleckii–Krein computation to 1e-12") {
  LabDir d("svd_lab_checks");
  const int n = 6;
  Generator gen(17);
  Tensor a = randn({1, n, n}, DType::Float64, &gen);
  Tensor s = add(matmul(a, a.transpose(1, 2)), mul(eye(n, DType::Float64), 0.1));  // SPD, distinct eigenvalues
  Tensor g = randn({1, n, n}, DType::Float64, &gen);
  save_npy(d / "s.npy", s);
  save_npy(d / "g.npy", g);
  REQUIRE(run_svd_lab_matrix({"--input", d / "s.npy", "--grad", d / "g.npy", "--rule", "exact", "--out", d / "e"}) == 0);
  Tensor q = load_npy(d / "e/output.npy"), gs = load_npy(d / "e/grad_input.npy");
  REQUIRE(q.dtype() == DType::Float64);
  REQUIRE(gs.dtype() == DType::Float64);

  // Independent: LAPACK dsyev (QR iteration, not the divide and conquer dsvd uses), plain loops.
  std::vector<double> v = to_vector(s), w(n);
  REQUIRE(LAPACKE_dsyev(LAPACK_ROW_MAJOR, 'V', 'U', n, v.data(), n, w.data()) == 0);  // columns of v
  auto V = [&](int i, int k) { return v[size_t(i * n + k)]; };
  auto G = to_vector(g);
  std::vector<double> cm(n * n, 0.0), r(n * n), q_ref(n * n, 0.0), grad_ref(n * n, 0.0);
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < n; ++j)
      for (int k = 0; k < n; ++k)
        for (int l = 0; l < n; ++l) cm[size_t(i * n + j)] += V(k, i) * G[size_t(k * n + l)] * V(l, j);
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < n; ++j)
      r[size_t(i * n + j)] = (cm[size_t(i * n + j)] + cm[size_t(j * n + i)]) / (std::sqrt(w[i]) + std::sqrt(w[j]));
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < n; ++j)
      for (int k = 0; k < n; ++k) {
        q_ref[size_t(i * n + j)] += V(i, k) * std::sqrt(w[k]) * V(j, k);
        for (int l = 0; l < n; ++l) grad_ref[size_t(i * n + j)] += V(i, k) * r[size_t(k * n + l)] * V(j, l);
      }
  auto rel = [](const std::vector<double>& x, const std::vector<double>& y) {
    double num = 0, den = 0;
    for (size_t i = 0; i < x.size(); ++i) num += (x[i] - y[i]) * (x[i] - y[i]), den += y[i] * y[i];
    return std::sqrt(num / den);
  };
  CHECK(rel(to_vector(q), q_ref) < 1e-12);
  // dsvd's raw ∂L/∂S; G_S + G_Sᵀ is the Daleckii–Krein gradient of ⟨G, S^½⟩ along symmetric directions.
  CHECK(rel(to_vector(add(gs, gs.transpose(1, 2))), grad_ref) < 1e-12);
}

TEST_CASE("svd_lab: experiments and compare print CSV and JSON for a plot; E1 sweeps 1 − r logarithmically") {
  const std::string log = (fs::temp_directory_path() / ("dsvd_lab_csv_" + std::to_string(::getpid()))).string();
  auto run = [&](const std::string& args) {
    REQUIRE(std::system((test::svd_lab_program() + " " + args + " > " + log + " 2>/dev/null").c_str()) == 0);
    std::ifstream in(log);
    std::vector<std::string> lines;
    for (std::string l; std::getline(in, l);) lines.push_back(l);
    return lines;
  };
  auto csv = run("experiment E1 --r-from 0.9 --r-to 0.9999 --points 4 --format csv");
  REQUIRE(csv.size() == 5);
  CHECK(csv[0] == "r,1/(1-r),taylor,taylor_rel_err,pade,pade_rel_err");
  std::vector<double> r;
  for (size_t i = 1; i < csv.size(); ++i) r.push_back(std::stod(csv[i].substr(0, csv[i].find(','))));
  CHECK(r[0] == doctest::Approx(0.9));
  CHECK(r[1] == doctest::Approx(0.99));  // 1 − r: 0.1, 0.01, 0.001, 0.0001
  CHECK(r[3] == doctest::Approx(0.9999));
  // The row for r = 0.99: Taylor's relative error is 0.99^101 (the closed form of the series).
  const std::string row = csv[2];
  const double taylor_err = std::stod(row.substr(row.find(',', row.find(',', row.find(',') + 1) + 1) + 1));
  CHECK(taylor_err == doctest::Approx(std::pow(0.99, 101)).epsilon(1e-9));
  auto json = run("compare --random 2,8,3,3 --rules exact,pade --format json");
  REQUIRE(json.size() == 1);
  json::Value v = json::parse(json[0], "compare");
  REQUIRE(v.array.size() == 2);
  CHECK(v.array[0].find("rule")->string == "pade");
  CHECK(v.array[1].find("grad_rel_err")->number == 0);
  fs::remove(log);
}

TEST_CASE("svd_lab compare --spectra paper: every square-root rule on the paper's four kinds of spectrum") {
  const std::string log = (fs::temp_directory_path() / ("dsvd_lab_spectra_" + std::to_string(::getpid()))).string();
  REQUIRE(std::system((test::svd_lab_program() + " compare --spectra paper --format json > " + log + " 2>/dev/null").c_str()) ==
          0);
  std::ifstream in(log);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  fs::remove(log);
  json::Value v = json::parse(text, "compare");
  size_t square_roots = 0;
  for (SqrtMethod m : all_sqrt_methods()) square_roots += is_square_root(m);
  REQUIRE(v.array.size() == 4 * square_roots);  // seb is not a square root: not compared
  auto cell = [&](const std::string& spectrum, const std::string& rule, const char* column) {
    for (const auto& row : v.array)
      if (row.find("spectrum")->string.rfind(spectrum, 0) == 0 && row.find("rule")->string == rule)
        return row.find(column)->number;
    FAIL("no row " << spectrum << " / " << rule);
    return 0.0;
  };
  for (const char* spectrum : {"well", "ill", "rank", "exact ties"}) {
    CAPTURE(spectrum);
    CHECK(cell(spectrum, "exact", "grad_rel_err") == 0);
    CHECK(cell(spectrum, "pade", "forward_err") == 0);  // the eigendecomposition's forward
  }
  // Distinct eigenvalues: Padé's K̃ is exact; MPA's forward beats MTP's.
  CHECK(cell("well", "pade", "grad_rel_err") < 1e-12);
  CHECK(cell("well", "mpa-lya", "forward_err") < cell("well", "mtp-lya", "forward_err"));
  // Rank-deficient as covariance pooling makes it: 16 of 32 eigenvalues at the floor, repaired ties.
  CHECK(cell("rank", "original", "at_floor") == 16);
  CHECK(cell("rank", "original", "repaired") > 0);
  // Exact ties: Original's repaired K̃ is far from the exact gradient, the exact rule is finite.
  CHECK(cell("exact ties", "original", "repaired") > 0);
  CHECK(cell("exact ties", "original", "grad_rel_err") > 0.1);
  CHECK(std::system((test::svd_lab_program() + " compare --spectra paper --input x.npy > /dev/null 2>&1").c_str()) != 0);
}

TEST_CASE("svd_lab experiment E5: every rule timed on 64 SPD 48x48 matrices, relative to MPA-Lya") {
  const std::string log = (fs::temp_directory_path() / ("dsvd_lab_e5_" + std::to_string(::getpid()))).string();
  REQUIRE(std::system((test::svd_lab_program() + " experiment E5 --reps 1 --format csv > " + log + " 2>&1").c_str()) == 0);
  std::ifstream in(log);
  std::vector<std::string> lines;
  for (std::string l; std::getline(in, l);) lines.push_back(l);
  fs::remove(log);
  REQUIRE(lines.size() == all_sqrt_methods().size() + 1);
  CHECK(lines[0] == "rule,ms,vs_mpa_lya");
  bool found = false;
  for (const auto& l : lines)
    if (l.rfind("mpa-lya,", 0) == 0) {
      found = true;
      CHECK(l.substr(l.rfind(',') + 1) == "1");
    }
  CHECK(found);
}
