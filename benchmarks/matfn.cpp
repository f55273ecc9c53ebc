// matfn benchmark: covariance pooling -> matrix square root -> vectorisation, forward + backward,
// for every rule, dsvd against the same computation in Debian's PyTorch (torch.linalg.eigh and a
// custom autograd.Function per rule, benchmarks/pytorch_reference.py), in the same run.
//
// Configs: (B=32, n=64, M=64) and (B=8, n=256, M=196), float64 and float32 inside the layer, both
// sides on 2 threads. Rounds alternate dsvd and PyTorch; each side reports the median of its
// repetitions per round and the table shows the median over rounds. Before timing, both sides
// compute every rule on the same input and the gradients are compared (the peer writes .npy).
// Then the inverse square root (mpa-lya-inv and eig) on SPD matrices (B=32, n=64) and (B=8, n=256),
// the same way.
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <sys/resource.h>

#include "apps/timing.h"
#include "benchmarks/peer.h"
#include "ops/cpu/blas_runtime.h"
#include "ops/matfn/inverse_sqrtm.h"
#include "ops/matfn/sqrtm.h"
#include "ops/ops.h"
#include "tensor/npy.h"
#include "tensor/random.h"

using namespace dsvd;
namespace fs = std::filesystem;

namespace {

struct Config {
  int64_t batch, channels, side;
};

Tensor run_layer(const Tensor& x, const Tensor& g, SqrtMethod m, DType dtype, Tensor* grad = nullptr) {
  CovariancePoolingOptions o;
  o.sqrt.method = m;
  o.dtype = dtype;
  Tensor leaf = x.clone().requires_grad_();
  Tensor y = covariance_sqrt_pooling(leaf, o);
  y.backward(g);
  if (grad) *grad = leaf.grad();
  return y;
}

// The median time in ms of `run` over `reps` calls after one warm-up call.
template <typename Run>
double median_ms(int reps, Run&& run) {
  std::vector<double> t;
  for (int r = 0; r <= reps; ++r) {
    const double t0 = now_seconds();
    run();
    if (r > 0) t.push_back((now_seconds() - t0) * 1e3);
  }
  return median(t);
}

// "  name  ours  theirs  ratio  [extra]" with the medians of both sides' rounds; n/a without a peer.
void print_ratio_row(const std::string& name, const std::vector<double>& ours, const std::vector<double>& theirs,
                     const char* extra = "") {
  const double a = median(ours);
  if (theirs.empty()) std::printf("  %-13s %10.2f %10s %8s%s\n", name.c_str(), a, "n/a", "-", extra);
  else std::printf("  %-13s %10.2f %10.2f %8.2f%s\n", name.c_str(), a, median(theirs), a / median(theirs), extra);
}

long minor_faults() {
  rusage u;
  getrusage(RUSAGE_SELF, &u);
  return u.ru_minflt;
}

// Minor page faults per forward+backward of each rule in the last round (a cause of slow runs:
// temporaries that the allocator hands back to the kernel, benchmarks/RESULTS.md "matfn").
std::map<std::string, double> faults_per_run;

std::map<std::string, double> dsvd_times(const Config& c, DType dtype, int reps) {
  Generator gen(0);
  Tensor x = relu(randn({c.batch, c.channels, c.side, c.side}, DType::Float32, &gen));
  Tensor g = randn({c.batch, c.channels * (c.channels + 1) / 2}, DType::Float32, &gen);
  std::map<std::string, double> out;
  for (SqrtMethod m : all_sqrt_methods()) {
    run_layer(x, g, m, dtype);  // the first call settles the allocator's cache, not counted
    const long f0 = minor_faults();
    out[sqrt_method_name(m)] = median_ms(reps, [&] { run_layer(x, g, m, dtype); });
    faults_per_run[sqrt_method_name(m)] = double(minor_faults() - f0) / std::max(1, reps + 1);
  }
  return out;
}

std::string peer_args(const Config& c, DType dtype, int reps) {
  return "matfn --batch " + std::to_string(c.batch) + " --channels " + std::to_string(c.channels) + " --positions " +
         std::to_string(c.side * c.side) + " --dtype " + (dtype == DType::Float64 ? "f64" : "f32") + " --reps " +
         std::to_string(reps);
}

std::map<std::string, double> peer_times(const std::string& script, const Config& c, DType dtype, int reps) {
  std::map<std::string, double> out;
  for (SqrtMethod m : all_sqrt_methods()) {
    auto v = run_peer(script, peer_args(c, dtype, reps) + " --rules " + sqrt_method_name(m), std::string("ms ") + sqrt_method_name(m));
    if (v) out[sqrt_method_name(m)] = *v;
  }
  return out;
}

double relative_difference(const Tensor& a, const Tensor& b) {
  Tensor d = sub(a.to(DType::Float64), b.to(DType::Float64));
  double den = std::sqrt(sum(mul(b.to(DType::Float64), b.to(DType::Float64))).item());
  return std::sqrt(sum(mul(d, d)).item()) / (den > 0 ? den : 1);
}

// Both sides on the same input (written by the peer): max relative difference of output and
// input gradient per rule.
void cross_check(const std::string& script) {
  fs::path dir = fs::temp_directory_path() / ("dsvd_matfn_check_" + std::to_string(getpid()));
  fs::create_directories(dir);
  Config c{4, 64, 7};
  if (!run_peer(script, peer_args(c, DType::Float64, 1) + " --save " + dir.string() + " && echo done 1", "done")) {
    std::printf("cross-check skipped: the peer could not run\n\n");
    return;
  }
  Tensor x = load_npy((dir / "x.npy").string()), g = load_npy((dir / "g.npy").string());
  std::printf("cross-check on (B=4, n=64, M=49) float64, same input: relative difference dsvd vs PyTorch\n");
  std::printf("%-13s %12s %12s\n", "rule", "output", "input grad");
  for (SqrtMethod m : all_sqrt_methods()) {
    std::string name = sqrt_method_name(m);
    Tensor grad;
    Tensor y = run_layer(x, g, m, DType::Float64, &grad);
    Tensor py = load_npy((dir / ("y_" + name + ".npy")).string());
    Tensor pg = load_npy((dir / ("grad_" + name + ".npy")).string());
    std::printf("%-13s %12.2e %12.2e\n", name.c_str(), relative_difference(y, py), relative_difference(grad, pg));
  }
  std::printf("(rank-deficient input, 16 null eigenvalues per sample: the two eigensolvers' rounding noise on\n"
              " them differs (~1e-17), which moves their √λ in the forward and the batch-wide values that Original,\n"
              " Taylor and Padé substitute for 1/(λi−λj); PI's gradient is rounding noise on both sides)\n\n");
  fs::remove_all(dir);
}

// --- The inverse square root (inverse_sqrtm: mpa-lya-inv and eig) on SPD matrices -----------------

const InverseSqrtMethod kInverseMethods[] = {InverseSqrtMethod::MpaLyaInv, InverseSqrtMethod::Eig};

Tensor run_inverse(const Tensor& a, const Tensor& g, InverseSqrtMethod m, Tensor* grad = nullptr) {
  InverseSqrtOptions o;
  o.method = m;
  Tensor leaf = a.clone().requires_grad_();
  Tensor w = inverse_sqrtm(leaf, o);
  w.backward(g);
  if (grad) *grad = leaf.grad();
  return w;
}

std::string inverse_args(int64_t batch, int64_t n, DType dtype, int reps) {
  return "invsqrt --batch " + std::to_string(batch) + " --n " + std::to_string(n) + " --dtype " +
         (dtype == DType::Float64 ? "f64" : "f32") + " --reps " + std::to_string(reps);
}

void inverse_sqrt_section(const std::string& script, int rounds, int reps) {
  // Cross-check on the peer's input.
  fs::path dir = fs::temp_directory_path() / ("dsvd_invsqrt_check_" + std::to_string(getpid()));
  fs::create_directories(dir);
  if (run_peer(script, inverse_args(4, 32, DType::Float64, 1) + " --save " + dir.string() + " && echo done 1", "done")) {
    Tensor a = load_npy((dir / "a.npy").string()), g = load_npy((dir / "g.npy").string());
    std::printf("inverse square root, cross-check on (B=4, n=32) float64 SPD, same input: relative difference\n");
    std::printf("%-13s %12s %12s\n", "method", "output", "input grad");
    for (InverseSqrtMethod m : kInverseMethods) {
      const std::string name = inverse_sqrt_method_name(m);
      Tensor grad;
      Tensor w = run_inverse(a, g, m, &grad);
      std::printf("%-13s %12.2e %12.2e\n", name.c_str(), relative_difference(w, load_npy((dir / ("w_" + name + ".npy")).string())),
                  relative_difference(grad, load_npy((dir / ("grad_" + name + ".npy")).string())));
    }
    std::printf("\n");
  }
  fs::remove_all(dir);
  for (auto [batch, n] : {std::pair<int64_t, int64_t>{32, 64}, {8, 256}}) {
    for (DType dtype : {DType::Float64, DType::Float32}) {
      Generator gen(0);
      Tensor x = randn({batch, n, 2 * n}, DType::Float64, &gen);
      Tensor a = add(div(matmul(x, x.transpose(1, 2)), double(2 * n)), mul(eye(n, DType::Float64), 0.1)).to(dtype);
      Tensor g = randn({batch, n, n}, DType::Float64, &gen).to(dtype);
      std::map<std::string, std::vector<double>> ours, theirs;
      for (int r = 0; r < rounds; ++r) {
        for (InverseSqrtMethod m : kInverseMethods)
          ours[inverse_sqrt_method_name(m)].push_back(median_ms(reps, [&] { run_inverse(a, g, m); }));
        for (InverseSqrtMethod m : kInverseMethods) {
          const std::string name = inverse_sqrt_method_name(m);
          if (auto v = run_peer(script, inverse_args(batch, n, dtype, reps) + " --methods " + name, "ms " + name))
            theirs[name].push_back(*v);
        }
      }
      std::printf("inverse square root, B=%lld n=%lld %s\n", (long long)batch, (long long)n, dtype_name(dtype));
      std::printf("  %-13s %10s %10s %8s\n", "method", "dsvd ms", "torch ms", "ratio");
      for (InverseSqrtMethod m : kInverseMethods) {
        const std::string k = inverse_sqrt_method_name(m);
        print_ratio_row(k, ours[k], theirs[k]);
      }
      std::printf("\n");
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  int rounds = argc > 1 ? std::atoi(argv[1]) : 2;
  int reps = argc > 2 ? std::atoi(argv[2]) : 3;
  std::string script = (fs::path(argv[0]).parent_path() / "../../benchmarks/pytorch_reference.py").string();
  if (const char* s = std::getenv("DSVD_PEER_SCRIPT")) script = s;
  std::printf("matfn: covariance -> matrix square root -> triu_vec, forward + backward per rule, ms (median)\n");
  std::printf("%s\npeer: PyTorch via %s, 2 threads; %d alternating rounds of %d repetitions\n\n", blas_summary().c_str(),
              peer_python().c_str(), rounds, reps);
  cross_check(script);
  for (const Config& c : {Config{32, 64, 8}, Config{8, 256, 14}}) {
    for (DType dtype : {DType::Float64, DType::Float32}) {
      std::map<std::string, std::vector<double>> ours, theirs;
      for (int r = 0; r < rounds; ++r) {
        for (auto& [k, v] : dsvd_times(c, dtype, reps)) ours[k].push_back(v);
        for (auto& [k, v] : peer_times(script, c, dtype, reps)) theirs[k].push_back(v);
      }
      std::printf("B=%lld n=%lld M=%lld %s\n", (long long)c.batch, (long long)c.channels, (long long)(c.side * c.side),
                  dtype_name(dtype));
      std::printf("  %-13s %10s %10s %8s %12s\n", "rule", "dsvd ms", "torch ms", "ratio", "dsvd faults");
      for (SqrtMethod m : all_sqrt_methods()) {
        const std::string k = sqrt_method_name(m);
        char faults[32];
        std::snprintf(faults, sizeof faults, " %12.0f", faults_per_run[k]);
        print_ratio_row(k, ours[k], theirs[k], faults);
      }
      std::printf("\n");
    }
  }
  inverse_sqrt_section(script, rounds, reps);
  return 0;
}
