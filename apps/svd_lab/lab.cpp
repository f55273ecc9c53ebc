// svd_lab: running the layer, checking inputs, and the layer/matrix commands.
#include "apps/svd_lab/lab.h"

#include <cmath>
#include <filesystem>
#include <fstream>

#include "apps/audit_cli.h"
#include "apps/model_cli.h"
#include "apps/svd_lab/json_writer.h"
#include "apps/timing.h"
#include "ops/matfn/covariance.h"
#include "ops/matfn/inverse_sqrtm.h"
#include "ops/matfn/symeig.h"
#include "ops/matfn/k_rules.h"
#include "ops/ops.h"
#include "tensor/npy.h"

namespace dsvd::lab {

MatrixSqrtOptions rule_options(const CommandLine& cli, const std::string& rule) {
  MatrixSqrtOptions o;
  o.method = parse_sqrt_method(rule);
  apply_rule_options(cli, o);
  o.report = std::make_shared<MatfnReport>();
  return o;
}

DType dtype_option(const CommandLine& cli, DType fallback) {
  std::string d = cli.get("dtype");
  if (d.empty()) return fallback;
  if (d == "f64" || d == "float64") return DType::Float64;
  if (d == "f32" || d == "float32") return DType::Float32;
  fail("--dtype must be f64 or f32, got '", d, "'");
}

namespace {

void check_finite(const Tensor& t, const std::string& name) {
  auto v = to_vector(t);
  for (size_t i = 0; i < v.size(); ++i)
    DSVD_CHECK(std::isfinite(v[i]), name, ": element ", i, " is ", v[i], "; the input must be finite");
}

}  // namespace

void check_features(const Tensor& x, const std::string& name) {
  DSVD_CHECK(x.dim() == 4, name, ": expected features of shape (B, C, H, W), got ", shape_str(x.sizes()));
  DSVD_CHECK(is_floating(x.dtype()), name, ": expected float32 features, got ", dtype_name(x.dtype()));
  DSVD_CHECK(x.numel() > 0, name, ": empty tensor of shape ", shape_str(x.sizes()));
  check_finite(x, name);
}

void check_matrices(const Tensor& s, const std::string& name) {
  DSVD_CHECK(s.dim() == 3 && s.size(1) == s.size(2), name, ": expected symmetric matrices (B, n, n), got ",
             shape_str(s.sizes()));
  DSVD_CHECK(is_floating(s.dtype()), name, ": expected float32 or float64 matrices, got ", dtype_name(s.dtype()));
  check_finite(s, name);
  double scale = std::max(max(abs(s)).item(), 1e-300);
  double asym = max(abs(sub(s, s.transpose(1, 2)))).item();
  double tol = s.dtype() == DType::Float64 ? 1e-12 : 1e-5;
  DSVD_CHECK(asym <= tol * scale, name, ": the matrices are not symmetric (max |S − Sᵀ| = ", asym, ", relative ",
             asym / scale, ")");
}

Tensor checked_upstream(const Tensor& grad, int64_t batch, int64_t n, const std::string& name) {
  const int64_t length = n * (n + 1) / 2;
  Tensor g = grad;
  if (g.dim() == 3 && g.size(2) == 1) g = g.reshape({g.size(0), g.size(1)});
  DSVD_CHECK(g.dim() == 2 && g.size(0) == batch && g.size(1) == length, name, ": expected the upstream gradient of "
             "shape (", batch, ", ", length, ") or (", batch, ", ", length, ", 1) for n = ", n, ", got ",
             shape_str(grad.sizes()));
  DSVD_CHECK(is_floating(g.dtype()), name, ": expected a float gradient, got ", dtype_name(g.dtype()));
  check_finite(g, name);
  return g;
}

Tensor checked_full_upstream(const Tensor& grad, int64_t batch, int64_t n, const std::string& name) {
  DSVD_CHECK(grad.dim() == 3 && grad.size(0) == batch && grad.size(1) == n && grad.size(2) == n, name,
             ": expected the upstream gradient of the full square root, shape (", batch, ", ", n, ", ", n, "), got ",
             shape_str(grad.sizes()));
  DSVD_CHECK(is_floating(grad.dtype()), name, ": expected a float gradient, got ", dtype_name(grad.dtype()));
  check_finite(grad, name);
  return grad;
}

bool full_output_by_default(SqrtMethod method) {
  // The reference's Sqrtm of iSQRT-COV and of SVD-Newton, and the fast square roots' functions,
  // return the matrix; its SVD layers vectorise inside the layer.
  return !uses_eigendecomposition(method) || method == SqrtMethod::Newton;
}

bool full_output_option(const CommandLine& cli, SqrtMethod method, const Tensor& grad, int64_t n) {
  std::string o = cli.get("output");
  // A (B, n, n) upstream gradient (n > 1: for n = 1 both shapes read (B, 1, 1)) selects full.
  const bool grad_is_matrix = grad.dim() == 3 && grad.size(1) == n && grad.size(2) == n && n > 1;
  if (o.empty()) return grad_is_matrix || full_output_by_default(method);
  DSVD_CHECK(o == "full" || o == "triu", "--output must be full or triu, got '", o, "'");
  return o == "full";
}

LayerRun run_on_features(const Tensor& features, const Tensor& grad, MatrixSqrtOptions options, DType dtype) {
  LayerRun run;
  if (!options.report) options.report = std::make_shared<MatfnReport>();
  run.report = options.report;
  Tensor leaf = features.detach().clone().requires_grad_();
  CovariancePoolingOptions pooling;
  pooling.sqrt = options;
  pooling.dtype = dtype;
  double t0 = now_seconds();
  run.output = covariance_sqrt_pooling(leaf, pooling);
  double t1 = now_seconds();
  run.output.backward(grad);
  double t2 = now_seconds();
  run.grad_input = leaf.grad().to(DType::Float32);
  run.forward_ms = (t1 - t0) * 1e3;
  run.backward_ms = (t2 - t1) * 1e3;
  run.output = run.output.detach();
  return run;
}

LayerRun run_on_matrices(const Tensor& matrices, const Tensor& grad, MatrixSqrtOptions options, DType dtype,
                         bool full) {
  LayerRun run;
  if (!options.report) options.report = std::make_shared<MatfnReport>();
  run.report = options.report;
  Tensor leaf = matrices.detach().clone().requires_grad_();
  double t0 = now_seconds();
  Tensor root = sqrtm(leaf.to(dtype), options);
  run.output = (full ? root : triu_vec(root)).to(matrices.dtype());
  double t1 = now_seconds();
  run.output.backward(grad.to(matrices.dtype()));
  double t2 = now_seconds();
  run.grad_input = leaf.grad();  // in S's dtype, exactly as the rule returns it
  run.forward_ms = (t1 - t0) * 1e3;
  run.backward_ms = (t2 - t1) * 1e3;
  run.output = run.output.detach();
  return run;
}

std::string report_json(const std::string& rule, const LayerRun& run) {
  JsonWriter j;
  j.begin_object();
  j.key("rule").value(rule);
  j.key("output_shape").begin_array();
  for (int64_t s : run.output.sizes()) j.value(s);
  j.end_array();
  j.key("forward_ms").value(run.forward_ms);
  j.key("backward_ms").value(run.backward_ms);
  j.key("max_abs_k").value(run.report->max_abs_k());
  j.key("repairs").begin_object();
  for (const auto& [site, count] : run.report->repairs.read()) j.key(site).value(count);
  j.end_object();
  j.key("repaired_entries").value(run.report->repairs.total());
  if (run.report->eigenvalues.defined()) {
    const Tensor& l = run.report->eigenvalues;
    const int64_t batch = l.size(0), n = l.size(1);
    auto values = to_vector(l);
    j.key("eigenvalues").begin_array();
    for (int64_t b = 0; b < batch; ++b)
      j.values(std::vector<double>(values.begin() + b * n, values.begin() + (b + 1) * n));
    j.end_array();
    j.key("eigenvalue_summary").begin_array();
    for (int64_t b = 0; b < batch; ++b) {
      double lo = INFINITY, hi = 0, gap = INFINITY;
      int64_t at_floor = 0;
      for (int64_t k = 0; k < n; ++k) {
        double v = values[size_t(b * n + k)];
        lo = std::min(lo, v);
        hi = std::max(hi, v);
        at_floor += v <= clamp_floor(l.dtype());
        if (k > 0) gap = std::min(gap, values[size_t(b * n + k - 1)] - v);
      }
      j.begin_object();
      j.key("min").value(lo).key("max").value(hi).key("condition_number").value(hi / lo);
      j.key("at_clamp_floor").value(at_floor).key("smallest_gap").value(gap);
      j.end_object();
    }
    j.end_array();
  }
  j.end_object();
  return j.str();
}

std::vector<int64_t> zero_trace_samples(const Tensor& matrices) {
  std::vector<int64_t> out;
  Tensor traces = sum(mul(matrices, eye(matrices.size(1), matrices.dtype(), matrices.device())), {1, 2});
  auto t = to_vector(traces);
  for (size_t b = 0; b < t.size(); ++b)
    if (t[b] == 0) out.push_back(int64_t(b));
  return out;
}

std::vector<RunWarning> result_warnings(SqrtMethod method, const LayerRun& run, const Tensor& matrices) {
  std::vector<RunWarning> out;
  auto nan_count = [](const Tensor& t) {
    int64_t n = 0;
    for (double v : to_vector(t)) n += std::isnan(v);
    return n;
  };
  const int64_t nan_out = nan_count(run.output), nan_grad = nan_count(run.grad_input);
  if (nan_out + nan_grad > 0) {
    std::string why;
    const bool newton_schulz = method == SqrtMethod::ISqrt || method == SqrtMethod::Newton;
    if ((newton_schulz || !uses_eigendecomposition(method)) && matrices.defined()) {
      auto zero = zero_trace_samples(matrices);
      const std::string which = zero.empty() ? "" : " Sample " + std::to_string(zero[0]) +
                                (zero.size() > 1 ? " (and " + std::to_string(zero.size() - 1) + " more)" : "");
      if (!zero.empty() && newton_schulz)
        why = which + " has trace 0: Newton–Schulz divides Σ by its trace, and 0/0 is NaN (" +
              (method == SqrtMethod::ISqrt ? "forward and backward" : "in the backward; the forward is the SVD's") +
              "). The SVD rules take a zero matrix to √ε·I.";
      else if (!zero.empty())
        why = which + " has trace 0: the fast square roots divide Σ by ‖Σ‖_F, and 0/0 is NaN. The SVD rules take a "
              "zero matrix to √ε·I.";
    }
    out.push_back({RunWarning::Kind::NanResult, "the results hold NaN: output " + std::to_string(nan_out) + ", grad_input " +
                                                    std::to_string(nan_grad) + " entries." + why});
  }
  if (run.report && run.report->smallest_eigenvalues.defined())
    for (const auto& [b, w] : indefinite_samples(run.report->eigenvalue_magnitudes, run.report->smallest_eigenvalues)) {
      char value[32];
      std::snprintf(value, sizeof value, "%.6g", w);
      out.push_back({RunWarning::Kind::Indefinite,
                     "sample " + std::to_string(b) + " is not positive semi-definite: eigenvalue " + value +
                         "; its square root uses |λ| (the reference's SVD does the same); --strict refuses such input."});
    }
  return out;
}

namespace {

// Prints the warnings; --strict turns an indefinite input into an error (nothing is written).
// Returns the exit code: 1 when the results hold NaN, else 0.
int report_warnings(const std::vector<RunWarning>& warnings, bool strict) {
  int code = 0;
  for (const auto& w : warnings) {
    DSVD_CHECK(!(strict && w.kind == RunWarning::Kind::Indefinite), w.text, " (--strict)");
    std::fprintf(stderr, "svd_lab: warning: %s\n", w.text.c_str());
    if (w.kind == RunWarning::Kind::NanResult) code = 1;
  }
  return code;
}

void write_outputs(const std::string& dir, const std::string& rule, const LayerRun& run) {
  std::filesystem::create_directories(dir);
  save_npy(dir + "/output.npy", run.output);
  save_npy(dir + "/grad_input.npy", run.grad_input);
  std::ofstream(dir + "/report.json") << report_json(rule, run) << "\n";
}

void print_summary(const std::string& rule, const LayerRun& run, const std::string& dir) {
  std::printf("rule %s: output %s, forward %.2f ms, backward %.2f ms, repaired entries %lld, max |K| %.4g\n",
              rule.c_str(), shape_str(run.output.sizes()).c_str(), run.forward_ms, run.backward_ms,
              (long long)run.report->repairs.total(), run.report->max_abs_k());
  std::printf("wrote %s/output.npy, %s/grad_input.npy, %s/report.json\n", dir.c_str(), dir.c_str(), dir.c_str());
}

}  // namespace

int command_layer(const CommandLine& cli) {
  std::string features_path = cli.require("features"), grad_path = cli.require("grad"), rule = cli.require("rule");
  std::string out = cli.require("out");
  MatrixSqrtOptions options = rule_options(cli, rule);
  DType dtype = dtype_option(cli, DType::Float64);
  const bool strict = cli.has("strict");
  enable_audit_from(cli, out);
  cli.reject_unused();
  Tensor x = load_npy(features_path);
  check_features(x, features_path);
  int64_t n = x.size(1);
  Tensor g = checked_upstream(load_npy(grad_path), x.size(0), n, grad_path).to(DType::Float32);
  LayerRun run = run_on_features(x.to(DType::Float32), g, options, dtype);
  Tensor sigma;
  {
    NoGradGuard no_grad;
    CovarianceOptions cov;
    cov.dtype = dtype;
    sigma = covariance_pool(x.to(DType::Float32), cov);  // for the zero-trace explanation only
  }
  const int code = report_warnings(result_warnings(options.method, run, sigma), strict);
  write_outputs(out, sqrt_method_name(options.method), run);
  print_summary(sqrt_method_name(options.method), run, out);
  return code;
}

// svd_lab matrix --function invsqrt: W ≈ S^{-1/2} by inverse_sqrtm (mpa-lya-inv or eig), full
// output, the upstream gradient (B, n, n).
int command_matrix_inverse(const CommandLine& cli) {
  const std::string input = cli.require("input"), grad_path = cli.require("grad"), out = cli.require("out");
  InverseSqrtOptions options;
  options.method = parse_inverse_sqrt_method(cli.require("rule"));
  if (cli.has("iters")) {
    options.lya_iterations = cli.get_int("iters", 0);
    DSVD_CHECK(options.lya_iterations >= 1, "--iters must be >= 1, got ", options.lya_iterations);
  }
  options.lya_tolerance = cli.get_double("tol", 0);
  DSVD_CHECK(options.lya_tolerance >= 0, "--tol must be >= 0, got ", options.lya_tolerance);
  Tensor s = load_npy(input);
  check_matrices(s, input);
  const DType dtype = dtype_option(cli, s.dtype());
  const std::string output = cli.get("output", "full");
  DSVD_CHECK(output == "full", "--function invsqrt: --output must be full (the inverse root is returned whole), got '",
             output, "'");
  enable_audit_from(cli, out);
  cli.reject_unused();
  Tensor g = checked_full_upstream(load_npy(grad_path), s.size(0), s.size(1), grad_path);
  Tensor leaf = s.detach().clone().requires_grad_();
  const double t0 = now_seconds();
  Tensor w = inverse_sqrtm(leaf.to(dtype), options).to(s.dtype());
  const double t1 = now_seconds();
  w.backward(g.to(s.dtype()));
  const double t2 = now_seconds();
  const std::string name = inverse_sqrt_method_name(options.method);
  std::filesystem::create_directories(out);
  save_npy(out + "/output.npy", w.detach());
  save_npy(out + "/grad_input.npy", leaf.grad());
  JsonWriter j;
  j.begin_object();
  j.key("function").value("invsqrt").key("rule").value(name);
  j.key("forward_ms").value((t1 - t0) * 1e3).key("backward_ms").value((t2 - t1) * 1e3);
  j.end_object();
  std::ofstream(out + "/report.json") << j.str() << "\n";
  int64_t nan = 0;
  for (const Tensor& t : {w.detach(), leaf.grad()})
    for (double v : to_vector(t)) nan += std::isnan(v);
  std::printf("invsqrt %s: output %s, forward %.2f ms, backward %.2f ms\n", name.c_str(),
              shape_str(w.sizes()).c_str(), (t1 - t0) * 1e3, (t2 - t1) * 1e3);
  std::printf("wrote %s/output.npy, %s/grad_input.npy, %s/report.json\n", out.c_str(), out.c_str(), out.c_str());
  if (nan > 0) {
    std::fprintf(stderr, "svd_lab: warning: the results hold NaN (%lld entries): S must be positive definite "
                 "(the inverse root of a zero matrix divides by ‖S‖_F = 0)\n", (long long)nan);
    return 1;
  }
  return 0;
}

int command_matrix(const CommandLine& cli) {
  const std::string function = cli.get("function", "sqrt");
  DSVD_CHECK(function == "sqrt" || function == "invsqrt", "--function must be sqrt or invsqrt, got '", function, "'");
  if (function == "invsqrt") return command_matrix_inverse(cli);
  std::string input = cli.require("input"), grad_path = cli.require("grad"), rule = cli.require("rule");
  std::string out = cli.require("out");
  MatrixSqrtOptions options = rule_options(cli, rule);
  Tensor s = load_npy(input);
  check_matrices(s, input);
  DType dtype = dtype_option(cli, s.dtype());
  const bool strict = cli.has("strict");
  Tensor g = load_npy(grad_path);
  const bool full = full_output_option(cli, options.method, g, s.size(1));
  enable_audit_from(cli, out);
  cli.reject_unused();
  g = full ? checked_full_upstream(g, s.size(0), s.size(1), grad_path) : checked_upstream(g, s.size(0), s.size(1), grad_path);
  LayerRun run = run_on_matrices(s, g, options, dtype, full);
  const int code = report_warnings(result_warnings(options.method, run, s), strict);
  write_outputs(out, sqrt_method_name(options.method), run);
  print_summary(sqrt_method_name(options.method), run, out);
  return code;
}

}  // namespace dsvd::lab
