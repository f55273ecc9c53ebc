// The MPI backend (docs/distributed.md). Collectives are started non-blocking and completed by
// polling MPI_Test, so that a wait longer than the timeout ends with an error naming the call and
// the rank (a peer that died or hangs) instead of blocking for ever. MPI is initialised once per
// process with MPI_THREAD_SERIALIZED, and every MPI call of the process holds one mutex: the
// gradient thread of DataParallel and the main thread (synchronised batch norm, the head's global
// repairs) may both wait on collectives, each on its own duplicate of the communicator, and their
// polls interleave without two MPI calls ever running at once.
// The C API only (OpenMPI and MPICH would otherwise pull in their deprecated C++ bindings).
#define OMPI_SKIP_MPICXX 1
#define MPICH_SKIP_MPICXX 1
#include <mpi.h>

#include <chrono>
#include <cstdlib>
#include <mutex>
#include <thread>

#include "distributed/communicator.h"

namespace dsvd::distributed {
namespace {

std::mutex& mpi_mutex() {
  static std::mutex m;
  return m;
}

int world_rank() {
  int r = -1;
  MPI_Comm_rank(MPI_COMM_WORLD, &r);
  return r;
}

void check_mpi(int code, const char* call) {
  if (code == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  MPI_Error_string(code, text, &length);
  fail(call, " failed on rank ", world_rank(), ": ", std::string(text, size_t(length)));
}

MPI_Datatype mpi_type(DType d, const char* call) {
  switch (d) {
    case DType::Float32: return MPI_FLOAT;
    case DType::Float64: return MPI_DOUBLE;
    case DType::Int64: return MPI_INT64_T;
    default: fail(call, ": ", dtype_name(d), " tensors are not communicated (float32, float64, int64)");
  }
}

class MpiCommunicator : public Communicator {
 public:
  // The world communicator; MPI starts here on first use.
  explicit MpiCommunicator(double timeout_s) : timeout_s_(timeout_s) {
    std::lock_guard<std::mutex> lock(mpi_mutex());
    int initialised = 0;
    MPI_Initialized(&initialised);
    if (!initialised) {
      int provided = 0;
      check_mpi(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_SERIALIZED, &provided), "MPI_Init_thread");
      DSVD_CHECK(provided >= MPI_THREAD_SERIALIZED, "MPI_Init_thread: the MPI library offers thread level ", provided,
                 ", dsvd needs MPI_THREAD_SERIALIZED");
      std::atexit([] {
        int finalised = 0;
        MPI_Finalized(&finalised);
        if (!finalised) MPI_Finalize();
      });
    }
    check_mpi(MPI_Comm_dup(MPI_COMM_WORLD, &comm_), "MPI_Comm_dup");
    MPI_Comm_rank(comm_, &rank_);
    MPI_Comm_size(comm_, &size_);
    MPI_Comm local;
    check_mpi(MPI_Comm_split_type(comm_, MPI_COMM_TYPE_SHARED, rank_, MPI_INFO_NULL, &local), "MPI_Comm_split_type");
    MPI_Comm_rank(local, &local_rank_);
    MPI_Comm_free(&local);
  }
  // A duplicate of `comm` (its own collective order).
  MpiCommunicator(double timeout_s, MPI_Comm comm, int local_rank) : timeout_s_(timeout_s), local_rank_(local_rank) {
    comm_ = comm;
    MPI_Comm_rank(comm_, &rank_);
    MPI_Comm_size(comm_, &size_);
  }
  // The communicator is not freed: MPI_Comm_free is collective in effect and may come after
  // MPI_Finalize at exit; a job makes a handful of them.

  std::shared_ptr<Communicator> duplicate() override {
    MPI_Comm copy;
    {
      std::lock_guard<std::mutex> lock(mpi_mutex());
      check_mpi(MPI_Comm_dup(comm_, &copy), "MPI_Comm_dup");
    }
    return std::make_shared<MpiCommunicator>(timeout_s_, copy, local_rank_);
  }
  int rank() const override { return rank_; }
  int size() const override { return size_; }
  int local_rank() const override { return local_rank_; }
  std::string backend() const override { return "mpi"; }
  bool communicates(Device device) const override { return device.is_cpu(); }

  void all_reduce(const Tensor& t, ReduceOp op) override {
    check_tensor(t, "MPI_Allreduce");
    MPI_Op mop = op == ReduceOp::Max ? MPI_MAX : op == ReduceOp::Min ? MPI_MIN : MPI_SUM;
    const MPI_Datatype type = mpi_type(t.dtype(), "MPI_Allreduce");
    MPI_Request request;
    {
      std::lock_guard<std::mutex> lock(mpi_mutex());
      check_mpi(MPI_Iallreduce(MPI_IN_PLACE, t.data_ptr(), int(t.numel()), type, mop, comm_, &request),
                "MPI_Iallreduce");
    }
    wait(request, "MPI_Allreduce");
    if (op == ReduceOp::Average) {
      DSVD_DISPATCH_FLOATING(t.dtype(), "all_reduce", [&] {
        auto* p = static_cast<scalar_t*>(t.data_ptr());
        for (int64_t i = 0; i < t.numel(); ++i) p[i] /= scalar_t(size_);
      });
    }
  }
  void broadcast(const Tensor& t, int root) override {
    check_tensor(t, "MPI_Bcast");
    DSVD_CHECK(root >= 0 && root < size_, "MPI_Bcast: root ", root, " of ", size_, " ranks");
    const MPI_Datatype type = mpi_type(t.dtype(), "MPI_Bcast");
    MPI_Request request;
    {
      std::lock_guard<std::mutex> lock(mpi_mutex());
      check_mpi(MPI_Ibcast(t.data_ptr(), int(t.numel()), type, root, comm_, &request), "MPI_Ibcast");
    }
    wait(request, "MPI_Bcast");
  }
  void barrier() override {
    MPI_Request request;
    {
      std::lock_guard<std::mutex> lock(mpi_mutex());
      check_mpi(MPI_Ibarrier(comm_, &request), "MPI_Ibarrier");
    }
    wait(request, "MPI_Barrier");
  }
  Tensor all_gather(const Tensor& t) override {
    Tensor in = t.contiguous();
    check_tensor(in, "MPI_Allgather");
    Shape shape = in.sizes();
    shape.insert(shape.begin(), size_);
    Tensor out = empty(shape, in.dtype());
    MPI_Request request;
    const MPI_Datatype type = mpi_type(in.dtype(), "MPI_Allgather");
    {
      std::lock_guard<std::mutex> lock(mpi_mutex());
      check_mpi(MPI_Iallgather(in.data_ptr(), int(in.numel()), type, out.data_ptr(), int(in.numel()), type, comm_,
                               &request),
                "MPI_Iallgather");
    }
    wait(request, "MPI_Allgather");
    return out;
  }

 private:
  void check_tensor(const Tensor& t, const char* call) const {
    DSVD_CHECK(t.defined() && t.is_contiguous(), call, " on rank ", rank_, ": expects a contiguous tensor");
    DSVD_CHECK(t.device().is_cpu(), call, " on rank ", rank_, ": the MPI backend communicates CPU tensors, got one on ",
               t.device().str(), " (NCCL serves CUDA tensors)");
    DSVD_CHECK(t.numel() < (int64_t(1) << 31), call, ": ", t.numel(), " elements exceed MPI's int count");
  }
  // Polls the request; after timeout_s an error names the call and the rank.
  void wait(MPI_Request& request, const char* call) {
    const auto start = std::chrono::steady_clock::now();
    int done = 0;
    for (int spins = 0;; ++spins) {
      {
        std::lock_guard<std::mutex> lock(mpi_mutex());
        check_mpi(MPI_Test(&request, &done, MPI_STATUS_IGNORE), call);
      }
      if (done) return;
      if (spins > 1000) std::this_thread::sleep_for(std::chrono::microseconds(50));
      const double waited = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      DSVD_CHECK(waited < timeout_s_, call, ": rank ", rank_, " of ", size_, " waited ", waited,
                 " s for the other ranks (the timeout; a peer died or hangs)");
    }
  }

  double timeout_s_;
  MPI_Comm comm_ = MPI_COMM_NULL;
  int rank_ = 0, size_ = 1, local_rank_ = 0;
};

}  // namespace

std::shared_ptr<Communicator> make_mpi_communicator(double timeout_s) {
  return std::make_shared<MpiCommunicator>(timeout_s);
}

}  // namespace dsvd::distributed
