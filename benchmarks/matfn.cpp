// matfn benchmark: covariance pooling -> matrix square root -> vectorisation, forward + backward,
// for every rule, dsvd against the same computation in Debian's PyTorch (torch.linalg.eigh and a
// custom autograd.Function per rule, benchmarks/pytorch_reference.py), in the same run.
//
// Configs: (B=32, n=64, M=64) and (B=8, n=256, M=196), float64 and float32 inside the layer, both
// sides on 2 threads. Rounds alternate dsvd and PyTorch; each side reports the median of its
// repetitions per round and the table shows the median over rounds. Before timing, both sides
// compute every rule on the same input and the gradients are compared (the peer writes .npy).
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <sys/resource.h>

#include "apps/timing.h"
#include "benchmarks/peer.h"
#include "ops/cpu/blas_runtime.h"
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
    std::vector<double> t;
    long f0 = 0;
    for (int r = 0; r <= reps; ++r) {
      if (r == 1) f0 = minor_faults();
      double t0 = now_seconds();
      run_layer(x, g, m, dtype);
      if (r > 0) t.push_back((now_seconds() - t0) * 1e3);
    }
    out[sqrt_method_name(m)] = median(t);
    faults_per_run[sqrt_method_name(m)] = double(minor_faults() - f0) / std::max(1, reps);
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
        std::string k = sqrt_method_name(m);
        double a = median(ours[k]);
        if (theirs[k].empty()) {
          std::printf("  %-13s %10.2f %10s %8s %12.0f\n", k.c_str(), a, "n/a", "-", faults_per_run[k]);
        } else {
          double b = median(theirs[k]);
          std::printf("  %-13s %10.2f %10.2f %8.2f %12.0f\n", k.c_str(), a, b, a / b, faults_per_run[k]);
        }
      }
      std::printf("\n");
    }
  }
  return 0;
}
