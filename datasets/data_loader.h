// DataLoader: batches of a Dataset, built by worker threads into a bounded prefetch window.
//
// Batch b always holds the same examples with the same augmentation, whatever the number of
// workers and however the threads are scheduled: the order of an epoch is a permutation drawn
// from (seed, epoch), each example's random source from (seed, epoch, index), and batches are
// handed out strictly in order. Workers build whole batches; at most `prefetch_batches` batches
// past the one the consumer is waiting for are in flight. Stopping early (stop(), a new epoch or
// destruction) wakes and joins the workers without touching the remaining batches.
#pragma once
#include <condition_variable>
#include <exception>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "datasets/dataset.h"

namespace dsvd {

struct DataLoaderOptions {
  size_t batch_size = 32;
  bool shuffle = false;
  bool drop_last = false;
  int workers = 2;             // 0: build batches in the caller's thread
  int prefetch_batches = 4;    // batches in flight beyond the one being consumed
  uint64_t seed = 0;
  // Data-parallel sharding, as PyTorch's DistributedSampler: the epoch's order (the same on every
  // rank) is cut into `replicas` interleaved shards, example k of the order going to rank
  // k mod replicas. With pad_shards the order is first padded with its own beginning to a multiple
  // of `replicas`, so every rank has the same number of batches (training); without, the shards
  // are disjoint and together exactly the data (validation, whose counts are summed).
  size_t replicas = 1;
  size_t rank = 0;
  bool pad_shards = true;
  // Allocates a batch's image and label tensors (hook for pinned host memory on the GPU path).
  std::function<Tensor(const Shape&, DType)> allocate = [](const Shape& s, DType d) { return empty(s, d); };
};

struct Batch {
  Tensor images;       // float32 (N, C, H, W)
  Tensor labels;       // int64 (N)
  size_t index = 0;    // batch number within the epoch
  size_t skipped = 0;  // unreadable examples left out of this batch
};

class DataLoader {
 public:
  DataLoader(std::shared_ptr<const Dataset> dataset, DataLoaderOptions options);
  ~DataLoader();
  DataLoader(const DataLoader&) = delete;
  DataLoader& operator=(const DataLoader&) = delete;

  size_t num_batches() const;  // of a whole epoch
  // Of the epoch begun last: num_batches(), or fewer after resume_epoch.
  size_t batches_this_epoch() const { return batches_; }
  // The examples this rank sees per epoch (all of them without sharding).
  size_t shard_size() const;
  // Begins epoch `epoch` (stopping any epoch in progress), from batch `first_batch` (resuming a
  // run that stopped mid-epoch: the order and augmentation are those of the whole epoch).
  void start_epoch(uint64_t epoch, size_t first_batch = 0);
  // Begins epoch `epoch` after its first `examples_done` examples in the epoch's global order (as
  // padded for the shards) were trained by a job of any rank count and batch size: this rank's
  // interleaved shard of the rest, the rest padded with the order's beginning as start_epoch pads.
  // Batches are numbered from 0 and batches_this_epoch() counts those of the rest. With examples_done a
  // multiple of batch_size·replicas it is start_epoch(epoch, examples_done / (batch_size·replicas))
  // renumbered: the same examples in the same batches.
  void resume_epoch(uint64_t epoch, size_t examples_done);
  // The examples of one epoch in the global order, padded to a multiple of `replicas` when the
  // shards are: what examples_done counts.
  size_t global_epoch_size() const;
  // The next batch in order, or nullopt at the end of the epoch (then the number of skipped
  // examples is reported in a warning). Rethrows a worker's error.
  std::optional<Batch> next();
  void stop();
  size_t skipped_this_epoch() const { return skipped_total_; }
  // The examples of the epoch in order (the permutation), for tests and audits.
  const std::vector<size_t>& order() const { return order_; }

 private:
  Batch build_batch(size_t b) const;
  // The epoch's order from `examples_done` on, sharded for this rank; then the workers start at
  // `first_batch`.
  void begin(uint64_t epoch, size_t examples_done, size_t first_batch);
  void worker_loop();

  std::shared_ptr<const Dataset> dataset_;
  DataLoaderOptions options_;
  uint64_t epoch_ = 0;
  std::vector<size_t> order_;
  size_t skipped_total_ = 0;

  std::mutex mutex_;
  std::condition_variable changed_;
  size_t next_claim_ = 0, next_emit_ = 0, batches_ = 0;
  std::map<size_t, Batch> ready_;
  bool stopping_ = false;
  bool active_ = false;
  std::exception_ptr error_;
  std::vector<std::thread> workers_;
};

}  // namespace dsvd
