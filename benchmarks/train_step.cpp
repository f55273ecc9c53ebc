// train_step benchmark: one training step (forward, cross-entropy, backward, SGD with momentum
// 0.9) of torchvision's models on random float32 data, dsvd against Debian's PyTorch
// (benchmarks/pytorch_reference.py train_step) on the same 2 threads, in the same run.
//
//   R18-64:   resnet18, 10 classes, batch 32, 3x64x64
//   ALEX-224: alexnet, 1000 classes, batch 16, 3x224x224
//   R50-224:  resnet50, 1000 classes, batch 8, 3x224x224
//
// Each configuration runs in a child process per side (so peak resident memory is per config),
// the sides alternate over the rounds (5 by default), and the table shows each side's median and
// minimum ms per step, the ratio of each, each side's spread (flagged over 20%), both peaks, and
// the GFLOP/s of dsvd's convolutions and GEMMs against the sgemm peak measured here.
#include <sys/resource.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "apps/timing.h"
#include "autograd/audit.h"
#include "benchmarks/peer.h"
#include "tensor/profiler.h"
#include "nn/models/model_options.h"
#include "nn/optim/sgd.h"
#include "ops/cpu/blas_runtime.h"
#include "ops/cpu/conv2d_kernels.h"
#include "ops/cpu/flop_counter.h"
#include "ops/nn_ops.h"
#include "ops/ops.h"

using namespace dsvd;
namespace fs = std::filesystem;

namespace {

struct Config {
  const char* name;
  const char* arch;
  int64_t classes, batch, size;
};
const Config kConfigs[] = {{"R18-64", "resnet18", 10, 32, 64}, {"ALEX-224", "alexnet", 1000, 16, 224},
                           {"R50-224", "resnet50", 1000, 8, 224}};

double sgemm_peak();  // GFLOP/s of a 2048² sgemm here

// Child mode: run one config, print "ms X", "gflop Y" (per step) and "peak_rss_mb Z". `audit_mode`:
// "off", "trace" (every op to a trace file), "stop" (stop-on-nonfinite checks only) or "profile"
// (then also the time of 3 more steps by leaf module, backward node and optimizer step:
//   train_step --config R50-224 5 profile).
int run_config(const Config& c, int steps, const std::string& audit_mode) {
  fs::path audit_dir;
  if (audit_mode == "trace" || audit_mode == "stop") {
    audit_dir = fs::temp_directory_path() / ("dsvd_train_step_audit_" + std::to_string(getpid()));
    audit::Config a;
    a.dir = audit_dir.string();
    a.trace = audit_mode == "trace";
    a.stop_on_nonfinite = audit_mode == "stop";
    audit::enable(a);
  }
  manual_seed(0);
  nn::ModelOptions o;
  o.num_classes = c.classes;
  auto model = nn::make_model(c.arch, o);
  model->train();
  nn::Sgd opt(model->named_parameters(), {0.01, 0.9});
  Tensor x = randn({c.batch, 3, c.size, c.size});
  Tensor y = randint(0, c.classes, {c.batch});
  std::vector<double> times;
  uint64_t flops = 0;
  for (int step = 0; step < steps + 2; ++step) {
    uint64_t f0 = cpu::gemm_flop_counter().load();
    double t0 = now_seconds();
    opt.zero_grad();
    cross_entropy(model->forward(x), y).backward();
    opt.step();
    if (step >= 2) times.push_back((now_seconds() - t0) * 1e3);
    flops = cpu::gemm_flop_counter().load() - f0;
  }
  if (audit_mode == "profile") {  // time of 3 more steps by leaf module, backward node, optimizer
    char title[128];
    std::snprintf(title, sizeof title, "profile %s (of a %.1f ms step)", c.name, median(times));
    std::printf("%s", profile_report(ProfileMode::Host, 3, [&] {
                        opt.zero_grad();
                        cross_entropy(model->forward(x), y).backward();
                        opt.step();
                      }, title).c_str());
    // Per convolution shape and pass: ms per step and GFLOP/s against the sgemm peak (3 steps).
    const double peak = sgemm_peak();
    cpu::take_conv_profile_flops();
    set_profiling(ProfileMode::Host);
    for (int k = 0; k < 3; ++k) {
      opt.zero_grad();
      cross_entropy(model->forward(x), y).backward();
      opt.step();
    }
    auto ranges = take_profile();
    set_profiling(ProfileMode::Off);
    auto flops = cpu::take_conv_profile_flops();
    std::printf("convolutions of %s by shape and pass (%s; sgemm peak %.0f GFLOP/s):\n%9s %9s %7s  %s\n", c.name,
                cpu::cpu_conv_path_name(cpu::cpu_conv_path(DType::Float32)), peak, "ms/step", "GFLOP/s", "of peak",
                "pass in->out kernel/stride padding input batch");
    double conv_ms = 0;
    for (const auto& [name, ms] : ranges) {
      auto f = flops.find(name);
      if (f == flops.end()) continue;
      const double gflops = f->second / (ms * 1e-3) * 1e-9;
      conv_ms += ms / 3;
      std::printf("%9.2f %9.1f %6.0f%%  %s\n", ms / 3, gflops, 100 * gflops / peak, name.substr(7).c_str());
    }
    std::printf("%9.2f ms per step in convolutions\n", conv_ms);
  }
  struct rusage usage {};
  getrusage(RUSAGE_SELF, &usage);
  std::printf("ms %.3f\ngflop %.3f\npeak_rss_mb %.1f\n", median(times), double(flops) / 1e9, double(usage.ru_maxrss) / 1024.0);
  if (!audit_dir.empty()) {
    audit::disable();
    fs::remove_all(audit_dir);
  }
  return 0;
}

double sgemm_peak() {
  Tensor a = randn({2048, 2048}), b = randn({2048, 2048});
  matmul(a, b);
  std::vector<double> t;
  for (int r = 0; r < 3; ++r) {
    double t0 = now_seconds();
    matmul(a, b);
    t.push_back(now_seconds() - t0);
  }
  return 2.0 * 2048 * 2048 * 2048 / median(t) / 1e9;
}

struct Figures {
  double ms = 0, gflop = 0, rss = 0;
};

std::optional<Figures> child_figures(const std::string& command) {
  auto out = command_output(command);
  if (!out) return std::nullopt;
  return Figures{output_field(*out, "ms").value_or(0), output_field(*out, "gflop").value_or(0),
                 output_field(*out, "peak_rss_mb").value_or(0)};
}

}  // namespace

int main(int argc, char** argv) {
  if (argc >= 3 && std::string(argv[1]) == "--config") {
    for (const Config& c : kConfigs)
      if (c.name == std::string(argv[2]))
        return run_config(c, argc >= 4 ? std::atoi(argv[3]) : 5, argc >= 5 ? argv[4] : "off");
    std::fprintf(stderr, "unknown config %s\n", argv[2]);
    return 2;
  }
  int rounds = argc > 1 ? std::atoi(argv[1]) : 5;
  int steps = argc > 2 ? std::atoi(argv[2]) : 5;
  const std::string only = argc > 3 ? "," + std::string(argv[3]) + "," : "";
  for (size_t at = 1; at + 1 < only.size();) {  // every name in the list must be a configuration
    const size_t end = only.find(',', at);
    const std::string name = only.substr(at, end - at);
    if (std::none_of(std::begin(kConfigs), std::end(kConfigs), [&](const Config& c) { return name == c.name; })) {
      std::fprintf(stderr, "train_step: unknown configuration '%s' (R18-64, ALEX-224 or R50-224)\n", name.c_str());
      return 2;
    }
    at = end + 1;
  }
  std::string self = fs::canonical("/proc/self/exe").string();
  std::string script = (fs::path(self).parent_path() / "../../benchmarks/pytorch_reference.py").string();
  if (const char* s = std::getenv("DSVD_PEER_SCRIPT")) script = s;
  std::printf("train_step: forward + cross-entropy + backward + SGD(momentum 0.9), float32, random data\n");
  std::printf("%s\npeer: PyTorch via %s, 2 threads; %d alternating rounds of %d timed steps (median)\n", blas_summary().c_str(),
              peer_python().c_str(), rounds, steps);
  double peak = sgemm_peak();
  std::printf("sgemm 2048 here: %.1f GFLOP/s\n\n", peak);
  std::printf("%-9s %9s %9s %7s %9s %9s %7s %7s %7s %8s %8s %13s\n", "config", "dsvd ms", "torch ms", "ratio", "dsvd min",
              "torch min", "ratio", "dsvd sp", "torch sp", "dsvd MB", "torch MB", "conv+GEMM GF/s");
  for (const Config& c : kConfigs) {
    if (!only.empty() && only.find("," + std::string(c.name) + ",") == std::string::npos) continue;
    std::vector<double> ours, theirs, rss_ours, rss_theirs;
    double gflop = 0;
    for (int r = 0; r < rounds; ++r) {
      if (auto f = child_figures(self + " --config " + c.name + " " + std::to_string(steps))) {
        ours.push_back(f->ms);
        rss_ours.push_back(f->rss);
        gflop = f->gflop;
      }
      std::string args = std::string("train_step --arch ") + c.arch + " --batch " + std::to_string(c.batch) + " --size " +
                         std::to_string(c.size) + " --classes " + std::to_string(c.classes) + " --steps " + std::to_string(steps);
      if (auto f = child_figures(peer_python() + " " + script + " " + args)) {
        theirs.push_back(f->ms);
        rss_theirs.push_back(f->rss);
      }
    }
    // Median and minimum of each side, the ratio of each, and each side's spread (max − min over
    // the median): over 20% the host was noisy and the ratios are flagged.
    const double a = median(ours), b = median(theirs);
    const double a_min = ours.empty() ? 0 : *std::min_element(ours.begin(), ours.end());
    const double b_min = theirs.empty() ? 0 : *std::min_element(theirs.begin(), theirs.end());
    auto spread = [](const std::vector<double>& v) {
      return v.empty() ? 0.0 : (*std::max_element(v.begin(), v.end()) - *std::min_element(v.begin(), v.end())) / median(v);
    };
    const bool noisy = spread(ours) > 0.2 || spread(theirs) > 0.2;
    std::printf("%-9s %9.1f %9.1f %7.2f %9.1f %9.1f %7.2f %6.0f%% %7.0f%% %8.0f %8.0f %7.1f (%2.0f%%)%s\n", c.name, a, b,
                b > 0 ? a / b : 0, a_min, b_min, b_min > 0 ? a_min / b_min : 0, 100 * spread(ours), 100 * spread(theirs),
                median(rss_ours), median(rss_theirs), gflop / a * 1e3, 100.0 * gflop / a * 1e3 / peak,
                noisy ? "  (noisy: a spread over 20%)" : "");
  }
  if (!only.empty()) return 0;
  // The cost of the audit mode, on the smallest config.
  std::printf("\naudit cost, R18-64 (dsvd ms per step, median over rounds):\n");
  for (const char* mode : {"off", "stop", "trace"}) {
    std::vector<double> t;
    for (int r = 0; r < rounds; ++r)
      if (auto f = child_figures(self + " --config R18-64 " + std::to_string(steps) + " " + mode)) t.push_back(f->ms);
    std::printf("  %-6s %9.1f ms\n", mode, median(t));
  }
  std::printf("(off: one branch per op; stop: per-op NaN/Inf scan of outputs and gradients; trace: statistics of\n"
              " every input and output written to a JSONL file)\n");
  std::printf("\nconv+GEMM GF/s: the convolution and matmul work of one dsvd step (2 flops per multiply-add; a\n"
              "oneDNN pass counted as the GEMM of the im2col path) divided by the whole step time, and its share of the\n"
              "sgemm peak above. Ratios: dsvd over torch, of the medians and of the minima; sp: a side's spread.\n");
  return 0;
}
