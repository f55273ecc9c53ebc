// The NCCL backend (docs/distributed.md): collectives on the CUDA tensors of this rank's GPU,
// queued on the device's stream behind dsvd's kernels; CPU tensors go to the host communicator
// (MPI), which also carries NCCL's bootstrap (rank 0's ncclUniqueId, broadcast).
//
// NCCL is loaded when the first NCCL communicator is made (dlopen of libnccl.so.2), not linked:
// the programs start on machines without NCCL, and a multi-GPU run there says what is missing.
// The communicators are non-blocking (config.blocking = 0): every NCCL call is settled by polling
// ncclCommGetAsyncError, and every collective waits for its completion on the device by polling
// an event, both against the timeout; on a timeout the communicator is aborted (ncclCommAbort),
// which frees the GPU from the collective, and the error names the call and the rank.
#include <dlfcn.h>
#include <nccl.h>

#include <chrono>
#include <cstring>
#include <thread>

#include "distributed/communicator.h"
#include "tensor/device_backend.h"

namespace dsvd::distributed {
namespace {

// The NCCL entry points dsvd uses, from the library found at run time.
struct NcclLibrary {
  decltype(&ncclGetVersion) get_version = nullptr;
  decltype(&ncclGetUniqueId) get_unique_id = nullptr;
  decltype(&ncclCommInitRankConfig) init_rank_config = nullptr;
  decltype(&ncclCommSplit) split = nullptr;
  decltype(&ncclCommAbort) abort = nullptr;
  decltype(&ncclCommGetAsyncError) async_error = nullptr;
  decltype(&ncclGetErrorString) error_string = nullptr;
  decltype(&ncclGetLastError) last_error = nullptr;
  decltype(&ncclAllReduce) all_reduce = nullptr;
  decltype(&ncclBroadcast) broadcast = nullptr;
  decltype(&ncclAllGather) all_gather = nullptr;
  int version = 0;

  static const NcclLibrary& get() {
    static const NcclLibrary library = load();
    return library;
  }

 private:
  static NcclLibrary load() {
    void* handle = dlopen("libnccl.so.2", RTLD_NOW | RTLD_GLOBAL);
    DSVD_CHECK(handle, "NCCL: libnccl.so.2 not found (", dlerror(), "); put NCCL's lib folder on LD_LIBRARY_PATH "
               "(the CUDA toolkit's lib64, or PyTorch's nvidia/nccl/lib)");
    NcclLibrary l;
    auto bind = [&](auto& fn, const char* name) {
      fn = reinterpret_cast<std::remove_reference_t<decltype(fn)>>(dlsym(handle, name));
      DSVD_CHECK(fn, "NCCL: libnccl.so.2 has no ", name, " (dsvd needs NCCL 2.18 or later)");
    };
    bind(l.get_version, "ncclGetVersion");
    bind(l.get_unique_id, "ncclGetUniqueId");
    bind(l.init_rank_config, "ncclCommInitRankConfig");
    bind(l.split, "ncclCommSplit");
    bind(l.abort, "ncclCommAbort");
    bind(l.async_error, "ncclCommGetAsyncError");
    bind(l.error_string, "ncclGetErrorString");
    bind(l.last_error, "ncclGetLastError");
    bind(l.all_reduce, "ncclAllReduce");
    bind(l.broadcast, "ncclBroadcast");
    bind(l.all_gather, "ncclAllGather");
    l.get_version(&l.version);
    return l;
  }
};

ncclDataType_t nccl_type(DType d, const char* call) {
  switch (d) {
    case DType::Float32: return ncclFloat32;
    case DType::Float64: return ncclFloat64;
    case DType::Int64: return ncclInt64;
    case DType::UInt8: return ncclUint8;
  }
  fail(call, ": unknown dtype");
}

ncclRedOp_t nccl_op(ReduceOp op) {
  switch (op) {
    case ReduceOp::Sum: return ncclSum;
    case ReduceOp::Average: return ncclAvg;
    case ReduceOp::Max: return ncclMax;
    case ReduceOp::Min: return ncclMin;
  }
  return ncclSum;
}

class NcclCommunicator : public Communicator {
 public:
  // Rank and size from `host`; every rank calls it with its own GPU.
  NcclCommunicator(std::shared_ptr<Communicator> host, int device_index, double timeout_s)
      : host_(std::move(host)), device_(Device::cuda(device_index)), timeout_s_(timeout_s) {
    const NcclLibrary& nccl = NcclLibrary::get();
    rank_ = host_->rank();
    size_ = host_->size();
    // The unique id travels as 16 int64 (128 bytes) over the host communicator.
    ncclUniqueId id;
    static_assert(sizeof(id) % sizeof(int64_t) == 0, "ncclUniqueId is a whole number of int64");
    Tensor packed = zeros({int64_t(sizeof(id) / sizeof(int64_t))}, DType::Int64);
    if (rank_ == 0) {
      check(nccl.get_unique_id(&id), "ncclGetUniqueId");
      std::memcpy(packed.data_ptr(), &id, sizeof(id));
    }
    host_->broadcast(packed, 0);
    std::memcpy(&id, packed.data_ptr(), sizeof(id));
    stream();  // makes this rank's GPU current before NCCL looks at it
    ncclConfig_t config = NCCL_CONFIG_INITIALIZER;
    config.blocking = 0;
    const ncclResult_t started = nccl.init_rank_config(&comm_, size_, id, rank_, &config);
    settle(started, "ncclCommInitRankConfig");
  }
  // A duplicate (ncclCommSplit with one colour): its own collective order.
  NcclCommunicator(std::shared_ptr<Communicator> host, Device device, double timeout_s, ncclComm_t comm)
      : host_(std::move(host)), device_(device), timeout_s_(timeout_s), comm_(comm) {
    rank_ = host_->rank();
    size_ = host_->size();
  }
  // Not destroyed at exit: ncclCommDestroy may wait for peers that are gone; the driver frees it.

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  int local_rank() const override { return host_->local_rank(); }
  std::string backend() const override { return "nccl"; }
  bool communicates(Device device) const override { return device.is_cpu() || device == device_; }

  void all_reduce(const Tensor& t, ReduceOp op) override {
    if (t.device().is_cpu()) return host_->all_reduce(t, op);
    check_tensor(t, "ncclAllReduce");
    const NcclLibrary& nccl = NcclLibrary::get();
    settle(nccl.all_reduce(t.data_ptr(), t.data_ptr(), size_t(t.numel()), nccl_type(t.dtype(), "ncclAllReduce"),
                           nccl_op(op), comm_, stream()),
           "ncclAllReduce");
    wait("ncclAllReduce");
  }
  void broadcast(const Tensor& t, int root) override {
    if (t.device().is_cpu()) return host_->broadcast(t, root);
    check_tensor(t, "ncclBroadcast");
    DSVD_CHECK(root >= 0 && root < size_, "ncclBroadcast: root ", root, " of ", size_, " ranks");
    const NcclLibrary& nccl = NcclLibrary::get();
    settle(nccl.broadcast(t.data_ptr(), t.data_ptr(), size_t(t.numel()), nccl_type(t.dtype(), "ncclBroadcast"), root,
                          comm_, stream()),
           "ncclBroadcast");
    wait("ncclBroadcast");
  }
  void barrier() override {
    Tensor one = zeros({1}, DType::Float32, device_);
    all_reduce(one, ReduceOp::Sum);
    host_->barrier();
  }
  Tensor all_gather(const Tensor& t) override {
    if (t.device().is_cpu()) return host_->all_gather(t);
    DSVD_CHECK(t.is_contiguous(), "ncclAllGather on rank ", rank_, ": expects a contiguous tensor");
    check_tensor(t, "ncclAllGather");
    Shape shape = t.sizes();
    shape.insert(shape.begin(), size_);
    Tensor out = empty(shape, t.dtype(), device_);
    const NcclLibrary& nccl = NcclLibrary::get();
    settle(nccl.all_gather(t.data_ptr(), out.data_ptr(), size_t(t.numel()), nccl_type(t.dtype(), "ncclAllGather"),
                           comm_, stream()),
           "ncclAllGather");
    wait("ncclAllGather");
    return out;
  }
  std::shared_ptr<Communicator> duplicate() override {
    std::shared_ptr<Communicator> host = host_->duplicate();
    ncclConfig_t config = NCCL_CONFIG_INITIALIZER;
    config.blocking = 0;
    ncclComm_t copy = nullptr;
    stream();
    const ncclResult_t started = NcclLibrary::get().split(comm_, 0, rank_, &copy, &config);
    auto made = std::make_shared<NcclCommunicator>(host, device_, timeout_s_, copy);
    made->settle(started, "ncclCommSplit");
    return made;
  }

 private:
  cudaStream_t stream() const {
    return static_cast<cudaStream_t>(device_backend(device_, "NCCL").stream(device_.index));
  }

  void check_tensor(const Tensor& t, const char* call) const {
    DSVD_CHECK(t.defined() && t.is_contiguous(), call, " on rank ", rank_, ": expects a contiguous tensor");
    DSVD_CHECK(t.device() == device_, call, " on rank ", rank_, ": this communicator serves ", device_.str(),
               ", got a tensor on ", t.device().str());
  }
  [[noreturn]] void fail_call(ncclResult_t result, const char* call, const std::string& why) {
    const NcclLibrary& nccl = NcclLibrary::get();
    const char* last = comm_ ? nccl.last_error(comm_) : nullptr;
    fail(call, " failed on rank ", rank_, " of ", size_, ": ", why.empty() ? nccl.error_string(result) : why,
         last && *last ? std::string(" (") + last + ")" : std::string());
  }
  // A call on a non-blocking communicator: done, failed, or in progress until the communicator's
  // state says otherwise.
  void settle(ncclResult_t result, const char* call) {
    const NcclLibrary& nccl = NcclLibrary::get();
    const auto start = std::chrono::steady_clock::now();
    while (result == ncclInProgress) {
      if (seconds_since(start) > timeout_s_) abort_with(call, start);
      std::this_thread::sleep_for(std::chrono::microseconds(20));
      check(nccl.async_error(comm_, &result), "ncclCommGetAsyncError");
    }
    if (result != ncclSuccess) fail_call(result, call, "");
  }
  // The collective just queued is done on the device (an event behind it), or the timeout ends it.
  void wait(const char* call) {
    const DeviceBackend& backend = device_backend(device_, "NCCL");
    void* event = backend.record_event(device_.index);
    const auto start = std::chrono::steady_clock::now();
    for (int spins = 0; !backend.event_done(event); ++spins) {
      ncclResult_t state = ncclSuccess;
      check(NcclLibrary::get().async_error(comm_, &state), "ncclCommGetAsyncError");
      if (state != ncclSuccess && state != ncclInProgress) {
        backend.destroy_event(event);
        fail_call(state, call, "");
      }
      if (seconds_since(start) > timeout_s_) {
        backend.destroy_event(event);
        abort_with(call, start);
      }
      if (spins > 1000) std::this_thread::sleep_for(std::chrono::microseconds(50));
    }
    backend.destroy_event(event);
  }
  [[noreturn]] void abort_with(const char* call, std::chrono::steady_clock::time_point start) {
    const double waited = seconds_since(start);
    NcclLibrary::get().abort(comm_);
    comm_ = nullptr;
    fail(call, ": rank ", rank_, " of ", size_, " waited ", waited,
         " s for the other ranks (the timeout; a peer died or hangs); the NCCL communicator was aborted");
  }
  void check(ncclResult_t result, const char* call) {
    if (result != ncclSuccess && result != ncclInProgress) fail_call(result, call, "");
  }
  static double seconds_since(std::chrono::steady_clock::time_point start) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  }

  std::shared_ptr<Communicator> host_;
  Device device_;
  double timeout_s_;
  ncclComm_t comm_ = nullptr;
  int rank_ = 0, size_ = 1;
};

}  // namespace

std::shared_ptr<Communicator> make_nccl_communicator(std::shared_ptr<Communicator> host, Device device,
                                                     double timeout_s) {
  DSVD_CHECK(host, "make_nccl_communicator: no host communicator");
  DSVD_CHECK(device.is_cuda(), "make_nccl_communicator: NCCL serves CUDA devices, got ", device.str());
  return std::make_shared<NcclCommunicator>(std::move(host), device.index, timeout_s);
}

int nccl_version() { return NcclLibrary::get().version; }

}  // namespace dsvd::distributed
