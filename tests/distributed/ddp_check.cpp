// The data-parallel check that tests/distributed/test_data_parallel.cpp runs under
// `mpirun -np 2` (one thread per rank):
//   ddp_check              collectives against closed forms; DataParallel's averaged gradients of a
//                          small ResNet against a single-process computation of each rank's
//                          gradient, averaged; weights broadcast from rank 0. Exit 0 when all hold.
//                          The covariance head's overflow repairs with --repair-scope global: each
//                          rank's half of a batch gets the gradient the whole batch gets in one
//                          process; with the local scope it does not.
//   ddp_check nccl         the same on the GPUs (rank r on GPU local-rank r) over NCCL: for a machine
//                          with two or more GPUs.
//   ddp_check hung-peer    rank 1 stops answering (sleeps) with a timeout of 2 s: rank 0 must end the
//                          job, saying it waited past the timeout.
//   ddp_check dead-peer    rank 1 kills itself in the middle of the collectives: the job must end
//                          with a non-zero exit instead of hanging.
#include <chrono>
#include <csignal>
#include <cstdio>
#include <string>
#include <thread>

#include "distributed/communicator.h"
#include "distributed/data_parallel.h"
#include "distributed/global_repairs.h"
#include "ops/matfn/sqrtm.h"
#include "nn/models/model_options.h"
#include "ops/nn_ops.h"
#include "ops/ops.h"
#include "tensor/device_backend.h"
#include "tensor/random.h"

using namespace dsvd;

namespace {

int failures = 0;
Device device = Device::cpu();  // where the checks run: the CPU, or this rank's GPU (nccl)
void expect(bool ok, const std::string& what, int rank) {
  if (!ok) {
    std::fprintf(stderr, "rank %d: FAILED: %s\n", rank, what.c_str());
    ++failures;
  }
}

std::shared_ptr<nn::Module> make_net() {
  manual_seed(1);
  nn::ModelOptions o;
  o.width = 0.0625;
  o.small_stem = true;
  o.num_classes = 5;
  auto net = nn::make_model("resnet18", o);
  net->to(device);
  return net;
}

// The gradients of one shard of the batch on a fresh copy of the network.
nn::NamedTensors shard_gradients(const Tensor& x, const Tensor& y) {
  auto net = make_net();
  net->train();
  cross_entropy(net->forward(x), y).backward();
  nn::NamedTensors out;
  for (const auto& [name, p] : net->named_parameters()) out.emplace_back(name, p.grad().clone());
  return out;
}

// ∂L/∂Σ of the Original rule for diagonal Σ with exact ties: K̃ holds +inf at each tie, and the
// reference's repair replaces them by the batch's largest finite entry, 1 / (the smallest gap).
// L = ⟨W, sqrtm(Σ)⟩ for a fixed W.
struct SqrtGradient {
  Tensor grad;
  int64_t repairs;
};
SqrtGradient sqrt_gradient(const Tensor& sigma, const Tensor& weight, const ReplicaMax& across) {
  Tensor s = sigma.to(device).clone();
  s.requires_grad_();
  MatrixSqrtOptions o;
  o.method = SqrtMethod::Original;
  o.report = std::make_shared<MatfnReport>();
  o.repair_across_replicas = across;
  sum(mul(sqrtm(s, o), weight.to(device))).backward();
  return {s.grad().to(Device::cpu()), o.report->repairs.total()};
}

}  // namespace

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "check";
  if (mode == "nccl") {
    const int gpus = device_count(Device::Kind::CUDA);
    if (gpus < 1) {
      std::fprintf(stderr, "ddp_check nccl: no CUDA device\n");
      return 2;
    }
    device = Device::cuda(distributed::launcher_local_rank() % gpus);
  }
  auto comm = distributed::init_communicator(/*timeout_s=*/mode == "hung-peer" ? 2 : 30, device);
  const int rank = comm->rank();
  if (comm->size() != 2) {
    std::fprintf(stderr, "ddp_check: run it with mpirun -np 2 (size %d)\n", comm->size());
    return 2;
  }
  if (mode == "hung-peer") {
    comm->barrier();
    if (rank == 1) std::this_thread::sleep_for(std::chrono::seconds(60));
    comm->barrier();  // rank 0 waits here past the timeout
    return 0;
  }
  if (mode == "dead-peer") {
    for (int i = 0; i < 3; ++i) comm->barrier();
    if (rank == 1) std::raise(SIGKILL);
    for (int i = 0; i < 1000; ++i) comm->barrier();  // rank 0 must not get through these
    return 0;
  }

  // Collectives against closed forms.
  Tensor v = from_vector({double(rank + 1), double(10 * rank)}, {2}).to(device);
  comm->all_reduce(v, distributed::ReduceOp::Sum);
  expect(to_vector(v) == std::vector<double>{3, 10}, "all_reduce sum", rank);
  Tensor m = from_vector({double(rank), -double(rank)}, {2}).to(device);
  comm->all_reduce(m, distributed::ReduceOp::Max);
  expect(to_vector(m) == std::vector<double>{1, 0}, "all_reduce max", rank);
  Tensor b = from_vector({double(rank + 5)}, {1}).to(device);
  comm->broadcast(b, 1);
  expect(b.item() == 6, "broadcast from rank 1", rank);
  Tensor g = comm->all_gather(from_vector({double(rank), double(rank)}, {2}).to(device));
  expect(to_vector(g) == std::vector<double>{0, 0, 1, 1}, "all_gather", rank);

  // DataParallel: rank 1 starts from other weights; the broadcast makes them rank 0's.
  auto net = make_net();
  if (rank == 1) {
    NoGradGuard no_grad;
    for (auto& [name, p] : net->named_parameters()) copy_(p, add(p, 0.5));
  }
  distributed::DataParallel dp(comm, net->named_parameters(), /*bucket_bytes=*/16 << 10);
  expect(dp.bucket_count() > 3, "several buckets", rank);
  dp.broadcast_state(net->state_dict());
  auto reference = make_net();
  for (size_t i = 0; i < net->state_dict().size(); ++i)
    expect(to_vector(net->state_dict()[i].second) == to_vector(reference->state_dict()[i].second),
           "weights broadcast: " + net->state_dict()[i].first, rank);

  manual_seed(7);
  Tensor x = randn({4, 3, 12, 12}).to(device);
  Tensor y = from_vector({0, 3, 1, 4}, {4}).to(DType::Int64).to(device);
  net->train();
  dp.prepare_backward();
  cross_entropy(net->forward(x.narrow(0, 2 * rank, 2)), y.narrow(0, 2 * rank, 2)).backward();
  dp.finish_backward();
  // Single-process reference: each rank's shard on a fresh copy, then the mean.
  auto g0 = shard_gradients(x.narrow(0, 0, 2), y.narrow(0, 0, 2));
  auto g1 = shard_gradients(x.narrow(0, 2, 2), y.narrow(0, 2, 2));
  const auto params = net->named_parameters();
  double worst = 0;
  for (size_t i = 0; i < params.size(); ++i) {
    Tensor expected = mul(add(g0[i].second, g1[i].second), 0.5);
    const double scale = std::max(max(abs(expected)).item(), 1e-12);
    worst = std::max(worst, max(abs(sub(params[i].second.grad(), expected))).item() / scale);
  }
  expect(worst <= 1e-5, "averaged gradients (worst relative difference " + std::to_string(worst) + ")", rank);
  // A second step reuses the buckets.
  for (auto& [name, p] : net->named_parameters()) p.set_grad(Tensor());
  dp.prepare_backward();
  cross_entropy(net->forward(x.narrow(0, 2 * rank, 2)), y.narrow(0, 2 * rank, 2)).backward();
  dp.finish_backward();
  Tensor first = params.front().second.grad().contiguous().clone();
  Tensor both = comm->all_gather(first);
  expect(to_vector(both.select(0, 0)) == to_vector(both.select(0, 1)), "every rank holds the same gradient", rank);

  // The head's repairs over the global batch: rank r holds samples 2r, 2r + 1 of four. The
  // smallest gap is 1 in samples 0, 1 and 3 and 0.5 in sample 2: rank 0's own largest K̃ is 1,
  // the global batch's 2.
  Tensor sigma = diag_embed(from_vector({3, 2, 2, 1, 5, 4, 4, 1, 3, 2.5, 2.5, 0.5, 6, 2, 2, 1}, {4, 4}));
  manual_seed(11);
  Tensor weight = randn({4, 4, 4}, DType::Float64);
  const SqrtGradient whole = sqrt_gradient(sigma, weight, {});
  const Tensor mine = sigma.narrow(0, 2 * rank, 2), my_weight = weight.narrow(0, 2 * rank, 2);
  const Tensor expected = whole.grad.narrow(0, 2 * rank, 2);
  auto difference = [&](const Tensor& g) {
    return max(abs(sub(g, expected))).item() / std::max(max(abs(expected)).item(), 1e-30);
  };
  const SqrtGradient global = sqrt_gradient(mine, my_weight, distributed::replica_max(comm));
  const SqrtGradient local = sqrt_gradient(mine, my_weight, {});
  expect(global.repairs == 4, "the ties made 2 repairs per sample (" + std::to_string(global.repairs) + ")", rank);
  expect(difference(global.grad) <= 1e-12, "global repairs: the whole batch's gradient (relative difference " +
                                               std::to_string(difference(global.grad)) + ")", rank);
  // The local scope replaces by this rank's own largest entry: rank 0 gets another gradient.
  if (rank == 0)
    expect(difference(local.grad) > 1e-3, "local repairs differ from the whole batch's on rank 0 (relative difference " +
                                              std::to_string(difference(local.grad)) + ")", rank);
  else
    expect(difference(local.grad) <= 1e-12, "rank 1's own maximum is the global one", rank);

  comm->barrier();
  if (rank == 0) std::printf("ddp_check: %s (%zu buckets, worst relative difference %.3g)\n", failures ? "FAILED" : "ok",
                             dp.bucket_count(), worst);
  return failures ? 1 : 0;
}
