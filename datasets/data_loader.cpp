#include "datasets/data_loader.h"

#include <cstring>

#include "datasets/warnings.h"

namespace dsvd {

DataLoader::DataLoader(std::shared_ptr<const Dataset> dataset, DataLoaderOptions options)
    : dataset_(std::move(dataset)), options_(std::move(options)) {
  DSVD_CHECK(dataset_ != nullptr, "DataLoader: no dataset");
  DSVD_CHECK(options_.batch_size > 0, "DataLoader: batch_size must be positive");
  DSVD_CHECK(options_.workers >= 0, "DataLoader: workers must be >= 0, got ", options_.workers);
  DSVD_CHECK(options_.prefetch_batches >= 1, "DataLoader: prefetch_batches must be >= 1");
  DSVD_CHECK(options_.replicas >= 1 && options_.rank < options_.replicas, "DataLoader: rank ", options_.rank,
             " of ", options_.replicas, " replicas");
}

DataLoader::~DataLoader() { stop(); }

size_t DataLoader::num_batches() const {
  size_t n = shard_size(), b = options_.batch_size;
  return options_.drop_last ? n / b : (n + b - 1) / b;
}

size_t DataLoader::shard_size() const {
  const size_t n = dataset_->size(), r = options_.replicas, k = options_.rank;
  if (r <= 1) return n;
  if (options_.pad_shards) return (n + r - 1) / r;
  return n / r + (k < n % r ? 1 : 0);
}

void DataLoader::stop() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  changed_.notify_all();
  for (auto& t : workers_) t.join();
  workers_.clear();
  std::lock_guard<std::mutex> lock(mutex_);
  ready_.clear();
  active_ = false;
}

size_t DataLoader::global_epoch_size() const {
  const size_t n = dataset_->size(), r = options_.replicas;
  return r > 1 && options_.pad_shards ? (n + r - 1) / r * r : n;
}

void DataLoader::start_epoch(uint64_t epoch, size_t first_batch) { begin(epoch, 0, first_batch); }

void DataLoader::resume_epoch(uint64_t epoch, size_t examples_done) {
  DSVD_CHECK(examples_done <= global_epoch_size(), "DataLoader::resume_epoch: ", examples_done,
             " examples done, but an epoch has ", global_epoch_size());
  begin(epoch, examples_done, 0);
}

void DataLoader::begin(uint64_t epoch, size_t examples_done, size_t first_batch) {
  stop();
  epoch_ = epoch;
  std::vector<size_t> order(dataset_->size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  if (options_.shuffle) {
    // Fisher-Yates with a stream of its own (index 2^63 never names an example).
    SampleRng rng(options_.seed, epoch, uint64_t(1) << 63);
    for (size_t i = order.size(); i > 1; --i) std::swap(order[i - 1], order[size_t(rng.randint(0, int64_t(i)))]);
  }
  const size_t n = order.size(), r = options_.replicas;
  // The rest after the examples done; padded with the order's own beginning to a multiple of the
  // replicas (for examples_done a multiple of r, exactly the tail of the whole epoch's padding).
  order_.assign(order.begin() + std::ptrdiff_t(std::min(examples_done, n)), order.end());
  if (r > 1 && options_.pad_shards && n > 0)
    for (size_t i = 0; order_.size() % r != 0; ++i) order_.push_back(order[i % n]);
  if (examples_done > n) order_.clear();  // inside the padding: the epoch is done
  if (r > 1) {
    std::vector<size_t> shard;
    for (size_t k = options_.rank; k < order_.size(); k += r) shard.push_back(order_[k]);
    order_ = std::move(shard);
  }
  const size_t b = options_.batch_size;
  batches_ = options_.drop_last ? order_.size() / b : (order_.size() + b - 1) / b;
  DSVD_CHECK(first_batch <= batches_, "DataLoader::start_epoch: first batch ", first_batch, " is past the epoch's ",
             batches_, " batches");
  next_claim_ = next_emit_ = first_batch;
  skipped_total_ = 0;
  stopping_ = false;
  error_ = nullptr;
  active_ = true;
  for (int w = 0; w < options_.workers; ++w) workers_.emplace_back([this] { worker_loop(); });
}

Batch DataLoader::build_batch(size_t b) const {
  size_t begin = b * options_.batch_size, end = std::min(begin + options_.batch_size, order_.size());
  std::vector<Example> examples;
  Batch batch;
  batch.index = b;
  for (size_t k = begin; k < end; ++k) {
    size_t index = order_[k];
    SampleRng rng(options_.seed, epoch_, index);
    try {
      examples.push_back(dataset_->get(index, rng));
    } catch (const SkipExample& e) {
      dataset_warning(std::string("skipped: ") + e.what());
      batch.skipped++;
    }
  }
  if (examples.empty()) return batch;
  const Shape& shape = examples[0].image.sizes();
  Shape batch_shape = shape;
  batch_shape.insert(batch_shape.begin(), int64_t(examples.size()));
  batch.images = options_.allocate(batch_shape, DType::Float32);
  batch.labels = options_.allocate({int64_t(examples.size())}, DType::Int64);
  const size_t per_image = size_t(examples[0].image.numel());
  for (size_t i = 0; i < examples.size(); ++i) {
    const Tensor& img = examples[i].image;
    DSVD_CHECK(img.sizes() == shape && img.dtype() == DType::Float32, "DataLoader: example ", order_[begin + i],
               " has shape ", shape_str(img.sizes()), " but the batch's first example has ", shape_str(shape),
               "; use a transform that produces one fixed size");
    Tensor c = img.contiguous();
    std::memcpy(batch.images.data<float>() + i * per_image, c.data_ptr(), per_image * sizeof(float));
    batch.labels.data<int64_t>()[i] = examples[i].label;
  }
  return batch;
}

void DataLoader::worker_loop() {
  for (;;) {
    size_t b;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      changed_.wait(lock, [&] {
        return stopping_ || next_claim_ >= batches_ || next_claim_ < next_emit_ + size_t(options_.prefetch_batches);
      });
      if (stopping_ || next_claim_ >= batches_) return;
      b = next_claim_++;
    }
    try {
      Batch batch = build_batch(b);
      std::lock_guard<std::mutex> lock(mutex_);
      ready_.emplace(b, std::move(batch));
    } catch (...) {
      std::lock_guard<std::mutex> lock(mutex_);
      if (!error_) error_ = std::current_exception();
      stopping_ = true;
    }
    changed_.notify_all();
  }
}

std::optional<Batch> DataLoader::next() {
  DSVD_CHECK(active_, "DataLoader::next: call start_epoch(epoch) first");
  for (;;) {
    Batch batch;
    if (options_.workers == 0) {
      if (next_emit_ >= batches_) break;
      batch = build_batch(next_emit_++);
    } else {
      std::unique_lock<std::mutex> lock(mutex_);
      changed_.wait(lock, [&] { return error_ || next_emit_ >= batches_ || ready_.count(next_emit_) > 0; });
      if (error_) {
        std::exception_ptr e = error_;
        lock.unlock();
        stop();
        std::rethrow_exception(e);
      }
      if (next_emit_ >= batches_) break;
      auto it = ready_.find(next_emit_);
      batch = std::move(it->second);
      ready_.erase(it);
      ++next_emit_;
      lock.unlock();
      changed_.notify_all();  // a slot in the prefetch window is free
    }
    skipped_total_ += batch.skipped;
    if (batch.images.defined()) return batch;
    // Every example of this batch was unreadable: move on to the next one.
  }
  if (skipped_total_)
    dataset_warning("epoch " + std::to_string(epoch_) + ": " + std::to_string(skipped_total_) +
                    " unreadable example(s) skipped");
  return std::nullopt;
}

}  // namespace dsvd
