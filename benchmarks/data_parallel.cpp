// data_parallel benchmark: training throughput of one process against N data-parallel processes on
// the same cores, dsvd and PyTorch in the same run (benchmarks/pytorch_reference.py ddp: gloo).
//
//   data_parallel [ROUNDS] [STEPS] [RANKS] [strong|weak]   (default 3 rounds of 5 timed steps,
//                                                           2 ranks, strong)
//
// Work: torchvision's ResNet-18, 10 classes, 64×64 random images, forward + cross-entropy +
// backward + SGD (momentum 0.9), 1 process × RANKS threads against RANKS processes × 1 thread
// (under mpirun, gradients averaged by DataParallel). strong: the same global batch of 32 images
// per step, split over the ranks (32/RANKS each); weak: 32 images per process (a global batch of
// 32·RANKS), as DistributedDataParallel is usually scaled (train_imagenet's --batch-size is per
// rank) and as PyTorch's DDP paper measures it. Each configuration runs in its own processes; the
// sides alternate round by round; the table gives median and minimum images/s, the scaling
// efficiency (N ranks over 1 process) and dsvd over PyTorch.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "apps/timing.h"
#include "benchmarks/peer.h"
#include "distributed/communicator.h"
#include "distributed/data_parallel.h"
#include "nn/models/model_options.h"
#include "nn/optim/sgd.h"
#include "ops/nn_ops.h"
#include "ops/ops.h"
#include "tensor/random.h"

using namespace dsvd;
namespace fs = std::filesystem;

namespace {

constexpr int64_t kBatch = 32, kSize = 64, kClasses = 10;

// Child: this process's part of the job (`batch` images a step); rank 0 prints "images_per_s X"
// for the whole job.
int run_child(int steps, int64_t batch) {
  auto comm = distributed::init_communicator(120);
  manual_seed(0);
  nn::ModelOptions o;
  o.num_classes = kClasses;
  auto model = nn::make_model("resnet18", o);
  model->train();
  nn::Sgd opt(model->named_parameters(), {0.01, 0.9});
  std::unique_ptr<distributed::DataParallel> dp;
  if (comm->size() > 1) {
    dp = std::make_unique<distributed::DataParallel>(comm, model->named_parameters());
    dp->broadcast_state(model->state_dict());
  }
  manual_seed(1 + uint64_t(comm->rank()));
  Tensor x = randn({batch, 3, kSize, kSize});
  Tensor y = randint(0, kClasses, {batch});
  std::vector<double> times;
  for (int step = 0; step < steps + 2; ++step) {
    comm->barrier();
    const double t0 = now_seconds();
    opt.zero_grad();
    if (dp) dp->prepare_backward();
    cross_entropy(model->forward(x), y).backward();
    if (dp) dp->finish_backward();
    opt.step();
    comm->barrier();
    if (step >= 2) times.push_back(now_seconds() - t0);
  }
  std::sort(times.begin(), times.end());
  if (comm->rank() == 0)
    std::printf("images_per_s %.3f\n", double(batch * comm->size()) / times[times.size() / 2]);
  return 0;
}

struct Side {
  std::string name;
  std::string command;
  std::vector<double> rates;
};

double median_of(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}
double min_of(const std::vector<double>& v) { return v.empty() ? 0 : *std::min_element(v.begin(), v.end()); }
double max_of(const std::vector<double>& v) { return v.empty() ? 0 : *std::max_element(v.begin(), v.end()); }

}  // namespace

int main(int argc, char** argv) {
  if (argc >= 4 && std::string(argv[1]) == "--child") return run_child(std::atoi(argv[2]), std::atoi(argv[3]));
  const int rounds = argc > 1 ? std::atoi(argv[1]) : 3, steps = argc > 2 ? std::atoi(argv[2]) : 5;
  const int ranks = argc > 3 ? std::atoi(argv[3]) : 2;
  const std::string mode = argc > 4 ? argv[4] : "strong";
  if (rounds < 1 || steps < 1 || ranks < 2 || (mode != "strong" && mode != "weak")) {
    std::fprintf(stderr, "usage: data_parallel [ROUNDS >= 1] [STEPS >= 1] [RANKS >= 2] [strong|weak]\n");
    return 2;
  }
  const int64_t per_rank = mode == "weak" ? kBatch : kBatch / ranks;
  const std::string single = " --child " + std::to_string(steps) + " " + std::to_string(kBatch);
  const std::string parallel = " --child " + std::to_string(steps) + " " + std::to_string(per_rank);
  const std::string self = fs::canonical("/proc/self/exe").string();
  std::string script = (fs::path(self).parent_path() / "../../benchmarks/pytorch_reference.py").string();
  if (const char* s = std::getenv("DSVD_PEER_SCRIPT")) script = s;
  const std::string mpirun =
      "OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMP_NUM_THREADS=1 mpirun --oversubscribe -np " +
      std::to_string(ranks) + " ";
  const std::string peer = peer_python() + " " + script + " ddp --arch resnet18 --size 64 --classes 10 --steps " +
                           std::to_string(steps);
  std::vector<Side> sides = {
      {"dsvd, 1 process x " + std::to_string(ranks) + " threads",
       "OMP_NUM_THREADS=" + std::to_string(ranks) + " " + self + single, {}},
      {"dsvd, " + std::to_string(ranks) + " ranks x 1 thread (MPI)", mpirun + self + parallel, {}},
      {"torch, 1 process x " + std::to_string(ranks) + " threads",
       peer + " --world 1 --batch 32 --threads " + std::to_string(ranks), {}},
      {"torch, " + std::to_string(ranks) + " ranks x 1 thread (DDP, gloo)",
       peer + " --world " + std::to_string(ranks) + " --batch " + std::to_string(per_rank) + " --threads 1",
       {}},
  };
  std::printf("data_parallel (%s scaling): ResNet-18, 10 classes, 64x64, %lld images a step in 1 process, %lld per "
              "rank with %d ranks; SGD momentum 0.9; %d alternating rounds of %d timed steps (median)\n\n",
              mode.c_str(), (long long)kBatch, (long long)per_rank, ranks, rounds, steps);
  for (int r = 0; r < rounds; ++r)
    for (auto& side : sides) {
      auto out = command_output(side.command);
      if (auto v = out ? output_field(*out, "images_per_s") : std::nullopt) side.rates.push_back(*v);
    }
  std::printf("%-40s %12s %12s %8s\n", "configuration", "median img/s", "min img/s", "spread");
  for (const auto& side : sides) {
    const double med = median_of(side.rates), spread = med > 0 ? (max_of(side.rates) - min_of(side.rates)) / med : 0;
    std::printf("%-40s %12.1f %12.1f %7.0f%%%s\n", side.name.c_str(), med, min_of(side.rates), 100 * spread,
                spread > 0.2 ? "  (noisy)" : "");
  }
  const double ours1 = median_of(sides[0].rates), oursN = median_of(sides[1].rates);
  const double peer1 = median_of(sides[2].rates), peerN = median_of(sides[3].rates);
  std::printf("\nscaling efficiency (N ranks / 1 process): dsvd %.2f, torch %.2f\n", ours1 > 0 ? oursN / ours1 : 0,
              peer1 > 0 ? peerN / peer1 : 0);
  std::printf("dsvd / torch, N ranks: %.2f (min/min %.2f); 1 process: %.2f\n", peerN > 0 ? oursN / peerN : 0,
              min_of(sides[3].rates) > 0 ? min_of(sides[1].rates) / min_of(sides[3].rates) : 0,
              peer1 > 0 ? ours1 / peer1 : 0);
  return 0;
}
