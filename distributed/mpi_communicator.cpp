// The MPI backend (docs/distributed.md): CPU tensors, rank and size from mpirun/srun.
//
// MPI is initialised once per process, asking for MPI_THREAD_MULTIPLE: the gradient thread of
// DataParallel and the main thread (synchronised batch norm, the head's global repairs) may both
// be inside collectives at once, each on its own duplicate of the communicator. Then every
// collective is MPI's blocking call, the fastest (OpenMPI's blocking all-reduce of 24 MB between
// two ranks takes a third of the time of its non-blocking one), and a watchdog bounds the wait:
// a call that has waited longer than the timeout (a peer died or hangs) prints an error naming
// the call and the rank and aborts the job (MPI_Abort), since a blocking call cannot be left.
// A library that offers only MPI_THREAD_SERIALIZED gets the polled path: non-blocking calls
// completed by MPI_Test under one process-wide mutex, the timeout as a dsvd::Error.
// The C API only (OpenMPI and MPICH would otherwise pull in their deprecated C++ bindings).
#define OMPI_SKIP_MPICXX 1
#define MPICH_SKIP_MPICXX 1
#include <mpi.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <list>
#include <mutex>
#include <thread>

#include "distributed/communicator.h"

namespace dsvd::distributed {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

std::mutex& mpi_mutex() {  // the polled path's one lock around every MPI call
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

// Watches the blocking calls in flight; one that has waited past its timeout ends the job.
class Watchdog {
 public:
  struct Call {
    const char* name;
    int rank, size;
    double timeout_s;
    Clock::time_point start;
  };
  static Watchdog& get() {
    static Watchdog* w = new Watchdog;  // lives for the process (its thread is detached)
    return *w;
  }
  std::list<Call>::iterator enter(const Call& call) {
    std::lock_guard<std::mutex> lock(mutex_);
    return calls_.insert(calls_.end(), call);
  }
  void leave(std::list<Call>::iterator it) {
    std::lock_guard<std::mutex> lock(mutex_);
    calls_.erase(it);
  }

 private:
  Watchdog() {
    std::thread([this] {
      for (;;) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        std::lock_guard<std::mutex> lock(mutex_);
        for (const Call& c : calls_) {
          const double waited = seconds_since(c.start);
          if (waited < c.timeout_s) continue;
          std::fprintf(stderr,
                       "dsvd: %s: rank %d of %d waited %.1f s for the other ranks (the timeout, --dist-timeout; a peer "
                       "died or hangs): ending the job\n",
                       c.name, c.rank, c.size, waited);
          std::fflush(stderr);
          MPI_Abort(MPI_COMM_WORLD, 3);
          std::_Exit(3);
        }
      }
    }).detach();
  }
  std::mutex mutex_;
  std::list<Call> calls_;
};

class MpiCommunicator : public Communicator {
 public:
  // The world communicator; MPI starts here on first use.
  explicit MpiCommunicator(double timeout_s) : timeout_s_(timeout_s) {
    int initialised = 0;
    MPI_Initialized(&initialised);
    if (!initialised) {
      int provided = 0;
      check_mpi(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_MULTIPLE, &provided), "MPI_Init_thread");
      DSVD_CHECK(provided >= MPI_THREAD_SERIALIZED, "MPI_Init_thread: the MPI library offers thread level ", provided,
                 ", dsvd needs MPI_THREAD_SERIALIZED or better");
      std::atexit([] {
        int finalised = 0;
        MPI_Finalized(&finalised);
        if (!finalised) MPI_Finalize();
      });
    }
    int provided = 0;
    MPI_Query_thread(&provided);
    blocking_ = provided == MPI_THREAD_MULTIPLE;
    check_mpi(MPI_Comm_dup(MPI_COMM_WORLD, &comm_), "MPI_Comm_dup");
    MPI_Comm_rank(comm_, &rank_);
    MPI_Comm_size(comm_, &size_);
    MPI_Comm local;
    check_mpi(MPI_Comm_split_type(comm_, MPI_COMM_TYPE_SHARED, rank_, MPI_INFO_NULL, &local), "MPI_Comm_split_type");
    MPI_Comm_rank(local, &local_rank_);
    MPI_Comm_free(&local);
  }
  // A duplicate of `comm` (its own collective order).
  MpiCommunicator(double timeout_s, MPI_Comm comm, int local_rank, bool blocking)
      : timeout_s_(timeout_s), blocking_(blocking), comm_(comm), local_rank_(local_rank) {
    MPI_Comm_rank(comm_, &rank_);
    MPI_Comm_size(comm_, &size_);
  }
  // The communicator is not freed: MPI_Comm_free is collective in effect and may come after
  // MPI_Finalize at exit; a job makes a handful of them.

  std::shared_ptr<Communicator> duplicate() override {
    MPI_Comm copy;
    run("MPI_Comm_dup", [&] { return MPI_Comm_dup(comm_, &copy); }, nullptr);
    return std::make_shared<MpiCommunicator>(timeout_s_, copy, local_rank_, blocking_);
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
    void* p = t.data_ptr();
    const int n = int(t.numel());
    run("MPI_Allreduce", [&] { return MPI_Allreduce(MPI_IN_PLACE, p, n, type, mop, comm_); },
        [&](MPI_Request* r) { return MPI_Iallreduce(MPI_IN_PLACE, p, n, type, mop, comm_, r); });
    if (op == ReduceOp::Average) {
      DSVD_DISPATCH_FLOATING(t.dtype(), "all_reduce", [&] {
        scalar_t* __restrict q = static_cast<scalar_t*>(p);
        const scalar_t inverse = scalar_t(1) / scalar_t(size_);  // exact for a power of two
        const int64_t count = t.numel();
        for (int64_t i = 0; i < count; ++i) q[i] *= inverse;
      });
    }
  }
  void broadcast(const Tensor& t, int root) override {
    check_tensor(t, "MPI_Bcast");
    DSVD_CHECK(root >= 0 && root < size_, "MPI_Bcast: root ", root, " of ", size_, " ranks");
    const MPI_Datatype type = mpi_type(t.dtype(), "MPI_Bcast");
    void* p = t.data_ptr();
    const int n = int(t.numel());
    run("MPI_Bcast", [&] { return MPI_Bcast(p, n, type, root, comm_); },
        [&](MPI_Request* r) { return MPI_Ibcast(p, n, type, root, comm_, r); });
  }
  void barrier() override {
    run("MPI_Barrier", [&] { return MPI_Barrier(comm_); }, [&](MPI_Request* r) { return MPI_Ibarrier(comm_, r); });
  }
  Tensor all_gather(const Tensor& t) override {
    Tensor in = t.contiguous();
    check_tensor(in, "MPI_Allgather");
    Shape shape = in.sizes();
    shape.insert(shape.begin(), size_);
    Tensor out = empty(shape, in.dtype());
    const MPI_Datatype type = mpi_type(in.dtype(), "MPI_Allgather");
    const int n = int(in.numel());
    run("MPI_Allgather", [&] { return MPI_Allgather(in.data_ptr(), n, type, out.data_ptr(), n, type, comm_); },
        [&](MPI_Request* r) { return MPI_Iallgather(in.data_ptr(), n, type, out.data_ptr(), n, type, comm_, r); });
    return out;
  }

 private:
  void check_tensor(const Tensor& t, const char* call) const {
    DSVD_CHECK(t.defined() && t.is_contiguous(), call, " on rank ", rank_, ": expects a contiguous tensor");
    DSVD_CHECK(t.device().is_cpu(), call, " on rank ", rank_, ": the MPI backend communicates CPU tensors, got one on ",
               t.device().str(), " (NCCL serves CUDA tensors)");
    DSVD_CHECK(t.numel() < (int64_t(1) << 31), call, ": ", t.numel(), " elements exceed MPI's int count");
  }
  // One collective: the blocking call under the watchdog, or (polled path; `start` null: the
  // blocking call under the mutex) started and polled until done or the timeout.
  void run(const char* call, const std::function<int()>& blocking, const std::function<int(MPI_Request*)>& start) {
    if (blocking_) {
      auto& watchdog = Watchdog::get();
      auto entry = watchdog.enter({call, rank_, size_, timeout_s_, Clock::now()});
      const int code = blocking();
      watchdog.leave(entry);
      check_mpi(code, call);
      return;
    }
    if (!start) {
      std::lock_guard<std::mutex> lock(mpi_mutex());
      check_mpi(blocking(), call);
      return;
    }
    MPI_Request request;
    {
      std::lock_guard<std::mutex> lock(mpi_mutex());
      check_mpi(start(&request), call);
    }
    const auto begun = Clock::now();
    int done = 0;
    for (int spins = 0;; ++spins) {
      {
        std::lock_guard<std::mutex> lock(mpi_mutex());
        check_mpi(MPI_Test(&request, &done, MPI_STATUS_IGNORE), call);
      }
      if (done) return;
      if (spins > 1000) std::this_thread::sleep_for(std::chrono::microseconds(50));
      const double waited = seconds_since(begun);
      DSVD_CHECK(waited < timeout_s_, call, ": rank ", rank_, " of ", size_, " waited ", waited,
                 " s for the other ranks (the timeout; a peer died or hangs)");
    }
  }

  double timeout_s_;
  bool blocking_ = false;  // MPI_THREAD_MULTIPLE: blocking calls under the watchdog
  MPI_Comm comm_ = MPI_COMM_NULL;
  int rank_ = 0, size_ = 1, local_rank_ = 0;
};

}  // namespace

std::shared_ptr<Communicator> make_mpi_communicator(double timeout_s) {
  return std::make_shared<MpiCommunicator>(timeout_s);
}

}  // namespace dsvd::distributed
