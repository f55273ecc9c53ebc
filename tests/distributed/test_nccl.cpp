// The NCCL backend on this machine's GPU, as one rank (tools/gpu-check runs it on the GPU
// machine; with two or more GPUs and mpirun, `mpirun -np 2 ddp_check nccl` checks two ranks).
// Reported as skipped without a CUDA device.
#include "distributed/communicator.h"
#include "distributed/data_parallel.h"
#include "distributed/global_repairs.h"
#include "nn/models/model_options.h"
#include "ops/nn_ops.h"
#include "ops/ops.h"
#include "tensor/device_backend.h"
#include "tensor/random.h"
#include "tests/test_util.h"

using namespace dsvd;

namespace {

bool has_device() { return device_count(Device::Kind::CUDA) > 0; }
const Device kGpu = Device::cuda(0);

}  // namespace

TEST_CASE("nccl: a communicator is for a CUDA device, and says so") {
  CHECK_THROWS_WITH_AS(distributed::make_nccl_communicator(distributed::make_local_communicator(), Device::cpu(), 10),
                       doctest::Contains("NCCL serves CUDA devices, got cpu"), Error);
}

TEST_CASE("nccl: one rank's collectives on the GPU, CPU tensors through the host communicator" *
          doctest::skip(!has_device())) {
  auto comm = distributed::make_nccl_communicator(distributed::make_local_communicator(), kGpu, 30);
  MESSAGE("NCCL " << distributed::nccl_version());
  CHECK(comm->backend() == "nccl");
  CHECK(comm->size() == 1);
  CHECK(comm->communicates(kGpu));
  CHECK(comm->communicates(Device::cpu()));
  const std::vector<double> values = {1.5, -2, 3};
  for (auto op : {distributed::ReduceOp::Sum, distributed::ReduceOp::Average, distributed::ReduceOp::Max,
                  distributed::ReduceOp::Min}) {
    for (DType dtype : {DType::Float32, DType::Float64}) {
      Tensor t = from_vector(values, {3}).to(dtype).to(kGpu);
      comm->all_reduce(t, op);
      CHECK(to_vector(t) == values);  // one rank: every reduction is the identity
    }
  }
  Tensor b = from_vector(values, {3}).to(kGpu);
  comm->broadcast(b, 0);
  CHECK(to_vector(b) == values);
  Tensor g = comm->all_gather(from_vector(values, {3}).to(kGpu));
  CHECK(g.sizes() == Shape{1, 3});
  CHECK(g.device() == kGpu);
  CHECK(to_vector(g) == values);
  comm->barrier();
  Tensor host = from_vector(values, {3});
  comm->all_reduce(host, distributed::ReduceOp::Sum);
  CHECK(to_vector(host) == values);
  auto copy = comm->duplicate();
  Tensor d = from_vector(values, {3}).to(kGpu);
  copy->all_reduce(d, distributed::ReduceOp::Max);
  CHECK(to_vector(d) == values);
  CHECK_THROWS_WITH_AS(comm->all_reduce(from_vector(values, {3}).to(kGpu).unsqueeze(0).expand({2, 3}),
                                        distributed::ReduceOp::Sum),
                       doctest::Contains("expects a contiguous tensor"), Error);
}

TEST_CASE("nccl: a data-parallel step of one rank on the GPU is the plain step" * doctest::skip(!has_device())) {
  auto comm = distributed::make_nccl_communicator(distributed::make_local_communicator(), kGpu, 30);
  auto make = [] {
    manual_seed(3);
    nn::ModelOptions o;
    o.width = 0.0625;
    o.small_stem = true;
    o.num_classes = 5;
    o.head = "svd-pade";
    o.head_dim = 6;
    auto net = nn::make_model("resnet18", o);
    net->to(kGpu);
    net->train();
    return net;
  };
  manual_seed(9);
  Tensor x = randn({4, 3, 16, 16}).to(kGpu);
  Tensor y = from_vector({0, 3, 1, 4}, {4}).to(DType::Int64).to(kGpu);
  auto plain = make();
  cross_entropy(plain->forward(x), y).backward();
  auto parallel = make();
  distributed::use_global_repairs(*parallel, comm);  // the head's repairs through NCCL too
  distributed::DataParallel dp(comm, parallel->named_parameters(), /*bucket_bytes=*/16 << 10);
  CHECK(dp.bucket_count() > 3);
  dp.broadcast_state(parallel->state_dict());
  dp.prepare_backward();
  cross_entropy(parallel->forward(x), y).backward();
  dp.finish_backward();
  const auto a = plain->named_parameters(), b = parallel->named_parameters();
  REQUIRE(a.size() == b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    CAPTURE(a[i].first);
    CHECK(test::compare_values(to_vector(b[i].second.grad()), to_vector(a[i].second.grad()), 1e-6, 1e-5) == "");
  }
}
