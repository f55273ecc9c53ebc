// Collective communication between the processes of a data-parallel job, one backend per file:
//   local_communicator.cpp  a single process (size 1): every collective is the identity
//   mpi_communicator.cpp    MPI (OpenMPI, MPICH) for CPU tensors; rank and size from mpirun/srun
//   nccl_communicator.cpp   NCCL for the CUDA tensors of this rank's GPU (CPU tensors to MPI)
// Every call is checked: a failure is a dsvd::Error naming the call and the rank. A collective that
// waits longer than the timeout (a dead or stuck peer) ends with an error instead of a hang.
//
// Collectives of one communicator must be issued in the same order on every rank. Work that
// communicates from another thread (DataParallel's gradient buckets) takes a duplicate(): its
// collectives are ordered apart from the original's, and the two threads may wait at once.
#pragma once
#include <memory>
#include <string>

#include "tensor/tensor.h"

namespace dsvd::distributed {

enum class ReduceOp { Sum, Average, Max, Min };

class Communicator {
 public:
  virtual ~Communicator() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  virtual int local_rank() const = 0;  // the rank among the processes of this machine
  virtual std::string backend() const = 0;
  // Whether collectives take tensors on `device` as they are (else the caller stages them on the CPU).
  virtual bool communicates(Device device) const = 0;
  // In place on a contiguous tensor (float32, float64 or int64) of the same shape on every rank.
  virtual void all_reduce(const Tensor& t, ReduceOp op) = 0;
  // t <- root's t, in place.
  virtual void broadcast(const Tensor& t, int root) = 0;
  virtual void barrier() = 0;
  // (size, ...t's shape): every rank's t, in rank order.
  virtual Tensor all_gather(const Tensor& t) = 0;
  // The same ranks with a collective order of their own (MPI_Comm_dup); every rank calls it.
  virtual std::shared_ptr<Communicator> duplicate() = 0;
};

// The communicator of this process: MPI when started by mpirun/srun with more than one process
// (and dsvd was built with MPI), with NCCL over it when `device` is a GPU; else the
// single-process one. `timeout_s` bounds every wait.
std::shared_ptr<Communicator> init_communicator(double timeout_s = 300, Device device = Device::cpu());
// Whether the environment says this process was started by an MPI launcher with several ranks.
bool launched_with_several_ranks();
// This process's rank as the launcher's environment gives it (0 when not launched by one), known
// before MPI starts: the apps silence the standard output of every rank but 0 with it.
int launcher_rank();
// This process's rank among those of its machine, from the launcher's environment (0 when none
// says): which GPU a rank takes.
int launcher_local_rank();

std::shared_ptr<Communicator> make_local_communicator();
std::shared_ptr<Communicator> make_mpi_communicator(double timeout_s);  // throws when built without MPI
// NCCL on `device` with `host`'s ranks (host bootstraps it and carries CPU tensors); NCCL itself
// is loaded at run time (libnccl.so.2). Throws when built without CUDA or NCCL cannot be loaded.
std::shared_ptr<Communicator> make_nccl_communicator(std::shared_ptr<Communicator> host, Device device,
                                                     double timeout_s);
int nccl_version();  // the loaded NCCL's version code (e.g. 22803), loading it

}  // namespace dsvd::distributed
