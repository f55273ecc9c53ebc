// DistributedDataParallel's gradient averaging: after each backward every rank holds the average
// of all ranks' gradients, so that the optimizer steps are the same everywhere.
//
// The parameters are grouped into buckets of about 25 MB, in reverse registration order (the
// order in which a backward produces their gradients). A hook on each parameter counts the
// gradients of its bucket as AccumulateGrad writes them; a full bucket is averaged at once by a
// communication thread (flatten, all-reduce, copy back) while the backward goes on with the rest.
// Buckets are reduced strictly in index order, the same on every rank, as collectives require.
// finish_backward() waits for all of them; a parameter that got no gradient this step (unused by
// the forward) gets zeros, so every rank reduces the same buckets.
#pragma once
#include <condition_variable>
#include <exception>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "distributed/communicator.h"
#include "nn/module.h"

namespace dsvd::distributed {

class DataParallel {
 public:
  static constexpr size_t kDefaultBucketBytes = size_t(25) << 20;

  // `parameters`: the trainable ones (requires grad), in registration order. The buckets are
  // reduced on a duplicate of `communicator` (a collective call on every rank), so that the main
  // thread may go on using `communicator` during the backward (synchronised batch norm, the
  // head's global repairs) while the buckets are in flight.
  // overlap = false: no communication thread; finish_backward() reduces every bucket itself
  // (the benchmark's no-overlap baseline).
  DataParallel(std::shared_ptr<Communicator> communicator, nn::NamedTensors parameters,
               size_t bucket_bytes = kDefaultBucketBytes, bool overlap = true);
  ~DataParallel();
  DataParallel(const DataParallel&) = delete;
  DataParallel& operator=(const DataParallel&) = delete;

  // Rank 0's values of `state` (weights and buffers) on every rank: the start of training.
  void broadcast_state(const nn::NamedTensors& state);
  // Call before each backward, then finish_backward() after it (which rethrows a communication
  // error, naming the call and the rank).
  void prepare_backward();
  void finish_backward();

  size_t bucket_count() const { return buckets_.size(); }

 private:
  struct Bucket {
    std::vector<size_t> parameters;
    int64_t numel = 0;
    DType dtype = DType::Float32;
    size_t pending = 0;  // gradients still to come this step
    bool ready = false;  // all there: may be reduced
    Tensor flat;         // the packed gradients
    std::vector<Tensor> slots;  // views of `flat` shaped as each parameter, made once
  };
  void on_gradient(size_t bucket);
  void communication_loop();
  void reduce(Bucket& bucket);

  std::shared_ptr<Communicator> communicator_;
  nn::NamedTensors parameters_;
  std::vector<Bucket> buckets_;
  std::mutex mutex_;
  std::condition_variable changed_;
  bool overlap_ = true;
  bool armed_ = false, stopping_ = false;
  size_t next_to_reduce_ = 0;  // the communication thread's position this step
  std::exception_ptr error_;
  std::thread thread_;
};

}  // namespace dsvd::distributed
