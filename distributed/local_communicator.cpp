// The single-process communicator: size 1, every collective leaves its tensor as it is.
#include <cstdlib>

#include "distributed/communicator.h"

namespace dsvd::distributed {
namespace {

class LocalCommunicator : public Communicator {
 public:
  int rank() const override { return 0; }
  int size() const override { return 1; }
  int local_rank() const override { return 0; }
  std::string backend() const override { return "local"; }
  bool communicates(Device) const override { return true; }
  void all_reduce(const Tensor& t, ReduceOp) override { DSVD_CHECK(t.defined(), "all_reduce: undefined tensor"); }
  void broadcast(const Tensor& t, int root) override {
    DSVD_CHECK(root == 0, "broadcast: root ", root, " of a single process");
  }
  void barrier() override {}
  Tensor all_gather(const Tensor& t) override { return t.contiguous().unsqueeze(0); }
  std::shared_ptr<Communicator> duplicate() override { return std::make_shared<LocalCommunicator>(); }
};

int env_int(const char* name) {
  const char* v = std::getenv(name);
  return v && *v ? std::atoi(v) : 0;
}

}  // namespace

std::shared_ptr<Communicator> make_local_communicator() { return std::make_shared<LocalCommunicator>(); }

bool launched_with_several_ranks() {
  // OpenMPI's mpirun, PMIx launchers, MPICH/Hydra and Slurm's srun.
  for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMIX_SIZE", "PMI_SIZE", "SLURM_NTASKS"})
    if (env_int(name) > 1) return true;
  return false;
}

int launcher_rank() {
  for (const char* name : {"OMPI_COMM_WORLD_RANK", "PMIX_RANK", "PMI_RANK", "SLURM_PROCID"})
    if (const char* v = std::getenv(name); v && *v) return std::atoi(v);
  return 0;
}

int launcher_local_rank() {
  for (const char* name : {"OMPI_COMM_WORLD_LOCAL_RANK", "MPI_LOCALRANKID", "SLURM_LOCALID", "LOCAL_RANK"})
    if (const char* v = std::getenv(name); v && *v) return std::atoi(v);
  return 0;
}

std::shared_ptr<Communicator> init_communicator(double timeout_s, Device device) {
  if (!launched_with_several_ranks()) return make_local_communicator();
  auto mpi = make_mpi_communicator(timeout_s);
  return device.is_cuda() ? make_nccl_communicator(mpi, device, timeout_s) : mpi;
}

}  // namespace dsvd::distributed
