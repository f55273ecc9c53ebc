// gpu_train_step benchmark: training steps on the GPU (forward, cross-entropy, backward, SGD with
// momentum 0.9, float32, TF32 as PyTorch's defaults: on for cuDNN convolutions, off for matmul),
// dsvd against PyTorch eager on the same card in the same run
// (benchmarks/gpu_pytorch_reference.py), and the batched eigendecomposition against
// torch.linalg.eigh.
//
//   R50-GAP:   resnet50, GAP head,      batch 64,  3x224x224, 1000 classes
//   R50-PADE:  resnet50, svd-pade head, batch 64,  3x224x224, 1000 classes
//   ALEX:      alexnet (torchvision's), batch 128, 3x224x224, 1000 classes
//   "find" rows: dsvd measures cuDNN's legacy algorithms (DSVD_CUDNN_BENCHMARK=1); "graph" rows:
//   dsvd's convolutions through cuDNN's graph API (DSVD_CUDNN_API=graph, cuda/cudnn_graph.cpp);
//   "cuda-graph" rows: dsvd's whole step recorded once as a CUDA graph and replayed (train_imagenet
//   --cuda-graph; tensor/device_graph.h), against the same PyTorch eager run; "CL" rows: dsvd's
//   images channels-last, so its activations are (train_imagenet --channels-last); "fused-bn" rows:
//   dsvd's own batch norm + add + ReLU kernels (DSVD_CUDA_FUSED_BN=1) instead of cuDNN's batch norm
//   EIG f32/f64: 64 symmetric positive definite 256x256 matrices
//   SQRT f32/f64: the matrix square root's forward + backward on 64 SPD 48x48 matrices, per rule
//     (the fast square roots' paper compares MTP-Lya, MPA-Lya, Newton–Schulz and the SVD rules at
//     this size); dsvd against itself, no peer; MPA-Lya fused (one kernel per pass) and unfused;
//     and every rule again recorded as a CUDA graph and replayed (its device time alone)
//
// Images/s come from the median step after warm-up steps (each step ends with a device
// synchronisation); peak memory is the caching allocator's peak of bytes in live tensors against
// torch.cuda.max_memory_allocated, both measured from after the model and the batch were made.
// Prints a table after the line "== table" (tools/gpu-check shows it).
//   AMP rows (--only amp): the three training configs with --amp bf16 (and AlexNet's on the graph
//     API) against PyTorch eager under torch.autocast(bfloat16) + channels-last, and against
//     torch.compile of the same
//
//   gpu_train_step [--peer benchmarks/gpu_pytorch_reference.py] [--steps 10] [--only train|amp|eigh|sqrt] [--profile]
// --profile also prints, per config, the GPU time of 3 more steps by leaf module, backward node
// and optimizer step (tensor/profiler.h).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "benchmarks/peer.h"
#include "autograd/autocast_mode.h"
#include "ops/precision.h"
#include "tensor/device_backend.h"
#include "tensor/device_graph.h"
#include "tensor/profiler.h"
#include "nn/models/model_options.h"
#include "nn/optim/sgd.h"
#include "ops/matfn/sqrtm.h"
#include "ops/matfn/symeig.h"
#include "ops/nn_ops.h"
#include "ops/ops.h"

using namespace dsvd;

namespace {

struct Config {
  const char* name;
  const char* arch;
  const char* head;
  int64_t batch;
  bool cudnn_find = false;  // dsvd measures cuDNN's algorithms (DSVD_CUDNN_BENCHMARK=1) instead of its heuristics
  std::optional<DType> amp = std::nullopt;  // dsvd's forward under autocast (--amp); the peer under torch.autocast
  bool graph_api = false;    // dsvd's convolutions through cuDNN's graph API (DSVD_CUDNN_API=graph)
  bool cuda_graph = false;   // dsvd's step recorded once and replayed
  bool channels_last = false;  // dsvd's images (and so activations) channels-last (train_imagenet --channels-last)
  bool fused_bn = false;       // dsvd's own batch norm + add + ReLU kernels (DSVD_CUDA_FUSED_BN=1)
};
const Config kConfigs[] = {{"R50-GAP", "resnet50", "gap", 64},
                           {"R50-PADE", "resnet50", "svd-pade", 64},
                           {"ALEX", "alexnet", "gap", 128},
                           {"R50-GAP find", "resnet50", "gap", 64, true},
                           {"ALEX find", "alexnet", "gap", 128, true},
                           {"R50-GAP graph", "resnet50", "gap", 64, false, std::nullopt, true},
                           {"ALEX graph", "alexnet", "gap", 128, false, std::nullopt, true},
                           {"R50-GAP cuda-graph", "resnet50", "gap", 64, false, std::nullopt, false, true},
                           {"R50-PADE cuda-graph", "resnet50", "svd-pade", 64, false, std::nullopt, false, true},
                           {"ALEX cuda-graph", "alexnet", "gap", 128, false, std::nullopt, false, true},
                           {"R50-GAP CL", "resnet50", "gap", 64, false, std::nullopt, false, false, true},
                           {"R50-GAP fused-bn", "resnet50", "gap", 64, false, std::nullopt, false, false, false, true}};
// --only amp: bfloat16 mixed precision against PyTorch's autocast + channels-last, eager and
// torch.compile (the covariance head in float32 on both sides).
// "CL" rows: dsvd channels-last too (NHWC activations, as the peer's). The NCHW row first: it
// needs nothing new on the GPU side.
const Config kAmpConfigs[] = {
    {"R50-GAP bf16", "resnet50", "gap", 64, false, DType::BFloat16},
    {"R50-GAP bf16 CL", "resnet50", "gap", 64, false, DType::BFloat16, false, false, true},
    {"R50-PADE bf16 CL", "resnet50", "svd-pade", 64, false, DType::BFloat16, false, false, true},
    {"ALEX bf16 CL", "alexnet", "gap", 128, false, DType::BFloat16, false, false, true},
    {"ALEX bf16 CL graph", "alexnet", "gap", 128, false, DType::BFloat16, true, false, true},
    {"R50-GAP bf16 CL cuda-graph", "resnet50", "gap", 64, false, DType::BFloat16, false, true, true},
    {"R50-PADE bf16 CL cuda-graph", "resnet50", "svd-pade", 64, false, DType::BFloat16, false, true, true},
    {"ALEX bf16 CL cuda-graph", "alexnet", "gap", 128, false, DType::BFloat16, false, true, true},
    {"R50-GAP bf16 CL fused-bn", "resnet50", "gap", 64, false, DType::BFloat16, false, false, true, true},
    {"ALEX bf16", "alexnet", "gap", 128, false, DType::BFloat16}};

double now_ms() {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

struct Measured {
  double ms = 0, peak_mb = 0;
  double host_ms = 0;  // until the last op was queued: near `ms` means the host, not the GPU, bounds the step
};

std::string fmt(double v, const char* f = "%.1f") {
  char b[64];
  std::snprintf(b, sizeof b, f, v);
  return b;
}

bool g_profile = false;

Measured run_dsvd(const Config& c, int steps) {
  const Device gpu = Device::cuda(0);
  manual_seed(0);
  nn::ModelOptions o;
  o.num_classes = 1000;
  o.head = c.head;
  auto model = nn::make_model(c.arch, o);
  model->to(gpu);
  model->train();
  nn::Sgd opt(model->named_parameters(), {0.01, 0.9});
  Tensor x = randn({c.batch, 3, 224, 224}).to(gpu);
  if (c.channels_last) x = x.contiguous(MemoryFormat::ChannelsLast);
  Tensor y = randint(0, 1000, {c.batch}).to(gpu);
  synchronize(Device::cuda());
  reset_peak_memory_stats(Device::cuda());
  std::vector<double> times, host;
  auto train_step = [&] {
    opt.zero_grad();
    Tensor loss;
    {
      AutocastScope amp(c.amp);
      loss = cross_entropy((*model)(x), y);
    }
    loss.backward();
    opt.step();
  };
  DeviceGraph graph;  // cuda-graph rows: the first step eager, the second recorded (both warm-up)
  for (int step = 0; step < steps + 3; ++step) {
    double start = now_ms();
    if (c.cuda_graph && step > 0) {
      if (!graph.defined()) graph = DeviceGraph::capture(gpu, train_step);
      graph.replay();
    } else {
      train_step();
    }
    double queued = now_ms();
    synchronize(Device::cuda());
    if (step >= 3) {
      times.push_back(now_ms() - start);
      host.push_back(queued - start);
    }
  }
  Measured m{median(times), double(memory_stats(Device::cuda()).peak_allocated) / double(1 << 20), median(host)};
  if (g_profile && !c.cuda_graph) {  // GPU time by leaf module (forward), backward node and optimizer step
    const std::string title = "== profile " + std::string(c.name) + " (GPU, of a " + fmt(m.ms, "%.2f") + " ms step)";
    std::printf("%s", profile_report(ProfileMode::Gpu, 3, [&] {
                        opt.zero_grad();
                        Tensor loss;
                        {
                          AutocastScope amp(c.amp);
                          loss = cross_entropy((*model)(x), y);
                        }
                        loss.backward();
                        opt.step();
                      }, title).c_str());
  }
  return m;
}

double run_eig(DType dtype, int reps) {
  const Device gpu = Device::cuda(0);
  Generator g(0);
  Tensor a = randn({64, 256, 256}, dtype, &g).to(gpu);
  Tensor sym = add(div(matmul(a, a.transpose(1, 2)), 256.0), mul(eye(256, dtype, gpu), 1e-3));
  std::vector<double> times;
  for (int rep = 0; rep < reps + 2; ++rep) {
    synchronize(Device::cuda());
    double start = now_ms();
    SymEig e = symeig_descending(sym);
    synchronize(Device::cuda());
    if (rep >= 2) times.push_back(now_ms() - start);
  }
  return median(times);
}

// Median ms of sqrtm forward + backward (rule `m`) on 64 SPD 48x48 matrices on the GPU; with
// `graph`, recorded once and replayed (no host launch cost; throws when the rule cannot be recorded).
double run_sqrt(SqrtMethod m, DType dtype, int reps, bool graph = false) {
  const Device gpu = Device::cuda(0);
  Generator g(1);
  Tensor a = randn({64, 48, 48}, dtype, &g).to(gpu);
  Tensor spd = add(div(matmul(a, a.transpose(1, 2)), 48.0), mul(eye(48, dtype, gpu), 1e-2));
  Tensor up = randn({64, 48, 48}, dtype, &g).to(gpu);
  MatrixSqrtOptions o;
  o.method = m;
  std::vector<double> times;
  Tensor leaf = spd.detach().requires_grad_();
  auto pass = [&] {
    leaf.zero_grad();
    sqrtm(leaf, o).backward(up);
  };
  DeviceGraph recorded;
  for (int rep = 0; rep < reps + 2; ++rep) {
    synchronize(Device::cuda());
    double start = now_ms();
    if (graph && rep > 0) {
      if (!recorded.defined()) recorded = DeviceGraph::capture(gpu, pass);
      recorded.replay();
    } else {
      pass();
    }
    synchronize(Device::cuda());
    if (rep >= 2) times.push_back(now_ms() - start);
  }
  return median(times);
}

}  // namespace

int main(int argc, char** argv) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // each row reaches the log as it is measured
  std::string peer = "benchmarks/gpu_pytorch_reference.py", only;
  int steps = 10;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--peer" && i + 1 < argc) peer = argv[++i];
    else if (a == "--steps" && i + 1 < argc) steps = std::atoi(argv[++i]);
    else if (a == "--only" && i + 1 < argc) only = argv[++i];
    else if (a == "--profile") g_profile = true;
    else {
      std::fprintf(stderr, "usage: gpu_train_step [--peer SCRIPT] [--steps N] [--only train|amp|eigh|sqrt] [--profile]\n");
      return 2;
    }
  }
  std::printf("%s\n", device_summary(Device::Kind::CUDA).c_str());
  if (device_count(Device::Kind::CUDA) == 0) {
    std::printf("no CUDA device: nothing to measure\n");
    return 1;
  }
  // The peer's Python: the one on the PATH there (it holds PyTorch), unless DSVD_PEER_PYTHON says.
  if (!std::getenv("DSVD_PEER_PYTHON")) setenv("DSVD_PEER_PYTHON", "python3", 1);
  std::vector<std::string> rows;
  if (only.empty() || only == "train") {
    for (const Config& c : kConfigs) {
      Measured m;
      std::string error;
      if (c.cudnn_find) setenv("DSVD_CUDNN_BENCHMARK", "1", 1);
      if (c.graph_api) setenv("DSVD_CUDNN_API", "graph", 1);
      if (c.fused_bn) setenv("DSVD_CUDA_FUSED_BN", "1", 1);
      try {
        m = run_dsvd(c, steps);
      } catch (const std::exception& e) {
        error = e.what();
      }
      unsetenv("DSVD_CUDNN_BENCHMARK");
      unsetenv("DSVD_CUDNN_API");
      unsetenv("DSVD_CUDA_FUSED_BN");
      empty_cache(Device::cuda());
      std::string args = std::string("train_step --arch ") + c.arch + " --head " + c.head + " --batch " +
                         std::to_string(c.batch) + " --steps " + std::to_string(steps) + (g_profile ? " --profile" : "");
      // The peer once per (arch, head, batch): a "find" row compares with the same PyTorch run.
      static std::map<std::string, std::optional<std::string>> peer_runs;
      if (!peer_runs.count(args)) peer_runs[args] = command_output(peer_python() + " " + peer + " " + args);
      const auto& out = peer_runs[args];
      if (g_profile && out && out->find("== torch profile") != std::string::npos && !c.cudnn_find && !c.graph_api)
        std::printf("%s\n", out->substr(out->find("== torch profile")).c_str());
      auto peer_ips = out ? output_field(*out, "images_per_s") : std::nullopt;
      auto peer_mb = out ? output_field(*out, "peak_mem_mb") : std::nullopt;
      const double ips = m.ms > 0 ? double(c.batch) * 1e3 / m.ms : 0;
      std::string row = std::string(c.name) + " b" + std::to_string(c.batch) + " img/s dsvd | torch | ratio; peak MB dsvd | torch";
      std::string value = !error.empty() ? "dsvd failed: " + error
                                         : fmt(ips) + " | " + (peer_ips ? fmt(*peer_ips) : "-") + " | " +
                                               (peer_ips ? fmt(ips / *peer_ips, "%.2f") : "-") + "; " + fmt(m.peak_mb, "%.0f") +
                                               " | " + (peer_mb ? fmt(*peer_mb, "%.0f") : "-");
      std::printf("%s: %s (dsvd %.2f ms per step, %.2f ms of it until the host had queued the step)\n", row.c_str(),
                  value.c_str(), m.ms, m.host_ms);
      std::fflush(stdout);
      char line[512];
      std::snprintf(line, sizeof line, "%-44s %s", row.c_str(), value.c_str());
      rows.push_back(line);
    }
  }
  if (only == "amp") {
    for (const Config& c : kAmpConfigs) {
      Measured m;
      std::string error;
      if (c.graph_api) setenv("DSVD_CUDNN_API", "graph", 1);
      if (c.fused_bn) setenv("DSVD_CUDA_FUSED_BN", "1", 1);
      try {
        m = run_dsvd(c, steps);
      } catch (const std::exception& e) {
        error = e.what();
      }
      unsetenv("DSVD_CUDNN_API");
      unsetenv("DSVD_CUDA_FUSED_BN");
      empty_cache(Device::cuda());
      const std::string args = std::string("train_step --arch ") + c.arch + " --head " + c.head + " --batch " +
                               std::to_string(c.batch) + " --steps " + std::to_string(steps) + " --amp --channels-last";
      // The peers once per (arch, head, batch): a "graph" row compares with the same PyTorch runs.
      static std::map<std::string, std::optional<std::string>> peer_runs;
      if (!peer_runs.count(args)) peer_runs[args] = command_output(peer_python() + " " + peer + " " + args);
      if (!peer_runs.count(args + " --compile"))
        peer_runs[args + " --compile"] = command_output(peer_python() + " " + peer + " " + args + " --compile");
      const auto& eager = peer_runs[args];
      const auto& compiled = peer_runs[args + " --compile"];
      auto eager_ips = eager ? output_field(*eager, "images_per_s") : std::nullopt;
      auto compiled_ips = compiled ? output_field(*compiled, "images_per_s") : std::nullopt;
      auto eager_mb = eager ? output_field(*eager, "peak_mem_mb") : std::nullopt;
      const double ips = m.ms > 0 ? double(c.batch) * 1e3 / m.ms : 0;
      auto ratio = [&](const std::optional<double>& peer_ips) {
        return peer_ips ? fmt(*peer_ips) + " | " + fmt(ips / *peer_ips, "%.2f") : std::string("- | -");
      };
      const std::string row = std::string(c.name) + " b" + std::to_string(c.batch) +
                              " img/s dsvd | torch autocast+CL | ratio | torch.compile | ratio; peak MB dsvd | torch";
      const std::string value = !error.empty() ? "dsvd failed: " + error
                                               : fmt(ips) + " | " + ratio(eager_ips) + " | " + ratio(compiled_ips) + "; " +
                                                     fmt(m.peak_mb, "%.0f") + " | " + (eager_mb ? fmt(*eager_mb, "%.0f") : "-");
      std::printf("%s: %s (dsvd %.2f ms per step, %.2f ms queued by the host)\n", row.c_str(), value.c_str(), m.ms,
                  m.host_ms);
      std::fflush(stdout);
      char line[640];
      std::snprintf(line, sizeof line, "%-44s %s", row.c_str(), value.c_str());
      rows.push_back(line);
    }
  }
  if (only.empty() || only == "eigh") {
    for (DType dt : {DType::Float32, DType::Float64}) {
      const char* name = dt == DType::Float32 ? "f32" : "f64";
      std::string value;
      for (const char* solver : {"batched", "loop"}) {
        setenv("DSVD_CUDA_EIG", solver, 1);
        try {
          value += std::string(solver) + " " + fmt(run_eig(dt, 10), "%.2f") + " ms, ";
        } catch (const std::exception& e) {
          value += std::string(solver) + " failed (" + e.what() + "), ";
        }
      }
      unsetenv("DSVD_CUDA_EIG");
      auto peer_ms = run_peer(peer, std::string("eigh --batch 64 --n 256 --dtype ") + name, "ms");
      value += "torch " + (peer_ms ? fmt(*peer_ms, "%.2f") : std::string("-")) + " ms";
      char line[512];
      std::snprintf(line, sizeof line, "%-44s %s", (std::string("eig 64x256x256 ") + name).c_str(), value.c_str());
      std::printf("%s\n", line);
      rows.push_back(line);
    }
  }
  if (only.empty() || only == "sqrt") {
    for (DType dt : {DType::Float32, DType::Float64}) {
      std::string value;
      for (SqrtMethod m : {SqrtMethod::MpaLya, SqrtMethod::MtpLya, SqrtMethod::ISqrt, SqrtMethod::Newton,
                           SqrtMethod::Exact, SqrtMethod::Pade}) {
        try {
          value += std::string(sqrt_method_name(m)) + " " + fmt(run_sqrt(m, dt, 10), "%.2f") + ", ";
        } catch (const std::exception& e) {
          value += std::string(sqrt_method_name(m)) + " failed (" + e.what() + "), ";
        }
      }
      // MPA-Lya above runs its fused kernels (ops/kernels/linalg.h); here its separate products.
      setenv("DSVD_FUSED_FAST_SQRT", "0", 1);
      try {
        value += "mpa-lya unfused " + fmt(run_sqrt(SqrtMethod::MpaLya, dt, 10), "%.2f") + ", ";
      } catch (const std::exception& e) {
        value += std::string("mpa-lya unfused failed (") + e.what() + "), ";
      }
      unsetenv("DSVD_FUSED_FAST_SQRT");
      value += "ms";
      char line[512];
      std::snprintf(line, sizeof line, "%-44s %s", (std::string("sqrt fwd+bwd 64x48x48 ") + dtype_name(dt)).c_str(),
                    value.c_str());
      std::printf("%s\n", line);
      rows.push_back(line);
      // The same passes recorded once and replayed: the rules' device time without the host's
      // launches (a rule that cannot be recorded says why in the log and "-" in the table).
      std::string replayed;
      for (SqrtMethod m : {SqrtMethod::MpaLya, SqrtMethod::MtpLya, SqrtMethod::ISqrt, SqrtMethod::Newton,
                           SqrtMethod::Exact, SqrtMethod::Pade}) {
        try {
          replayed += std::string(sqrt_method_name(m)) + " " + fmt(run_sqrt(m, dt, 10, true), "%.2f") + ", ";
        } catch (const std::exception& e) {
          std::printf("sqrt %s %s as a graph: %s\n", sqrt_method_name(m), dtype_name(dt), e.what());
          replayed += std::string(sqrt_method_name(m)) + " -, ";
        }
      }
      std::snprintf(line, sizeof line, "%-44s %sms", (std::string("sqrt fwd+bwd 64x48x48 ") + dtype_name(dt) +
                    ", cuda graph").c_str(), replayed.c_str());
      std::printf("%s\n", line);
      rows.push_back(line);
    }
  }
  std::printf("== table\n");
  for (const auto& r : rows) std::printf("%s\n", r.c_str());
  return 0;
}
