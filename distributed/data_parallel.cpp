#include "distributed/data_parallel.h"

#include "ops/ops.h"

namespace dsvd::distributed {

DataParallel::DataParallel(std::shared_ptr<Communicator> communicator, nn::NamedTensors parameters,
                           size_t bucket_bytes, bool overlap)
    : parameters_(std::move(parameters)), overlap_(overlap) {
  DSVD_CHECK(communicator, "DataParallel: no communicator");
  communicator_ = communicator->duplicate();
  DSVD_CHECK(bucket_bytes > 0, "DataParallel: the bucket size must be positive");
  // Reverse registration order, a new bucket when full or when the dtype changes.
  for (size_t k = parameters_.size(); k-- > 0;) {
    const Tensor& p = parameters_[k].second;
    DSVD_CHECK(p.requires_grad(), "DataParallel: parameter '", parameters_[k].first, "' does not require grad");
    if (buckets_.empty() || buckets_.back().dtype != p.dtype() ||
        size_t(buckets_.back().numel) * itemsize(p.dtype()) >= bucket_bytes) {
      buckets_.emplace_back();
      buckets_.back().dtype = p.dtype();
    }
    buckets_.back().parameters.push_back(k);
    buckets_.back().numel += p.numel();
  }
  for (size_t b = 0; b < buckets_.size(); ++b) {
    Bucket& bucket = buckets_[b];
    bucket.flat = empty({bucket.numel}, bucket.dtype, parameters_[bucket.parameters[0]].second.device());
    int64_t offset = 0;
    for (size_t k : bucket.parameters) {
      Tensor p = parameters_[k].second;  // a handle: registering a hook changes its state
      DSVD_CHECK(p.device() == bucket.flat.device(), "DataParallel: parameter '", parameters_[k].first, "' is on ",
                 p.device().str(), ", the others of its bucket on ", bucket.flat.device().str());
      bucket.slots.push_back(bucket.flat.narrow(0, offset, p.numel()).view(p.sizes()));
      offset += p.numel();
      p.register_post_accumulate_grad_hook([this, b] { on_gradient(b); });
    }
  }
  if (overlap_) thread_ = std::thread([this] { communication_loop(); });
}

DataParallel::~DataParallel() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  changed_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void DataParallel::broadcast_state(const nn::NamedTensors& state) {
  for (const auto& [name, t] : state) {
    DSVD_CHECK(t.is_contiguous(), "DataParallel: '", name, "' is not contiguous");
    communicator_->broadcast(t, 0);
  }
}

void DataParallel::prepare_backward() {
  std::lock_guard<std::mutex> lock(mutex_);
  DSVD_CHECK(!armed_, "DataParallel: prepare_backward() twice without finish_backward()");
  for (auto& b : buckets_) {
    b.pending = b.parameters.size();
    b.ready = false;
  }
  next_to_reduce_ = 0;
  error_ = nullptr;
  armed_ = true;
}

void DataParallel::on_gradient(size_t bucket) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!armed_) return;  // a backward outside a data-parallel step (not averaged)
    Bucket& b = buckets_[bucket];
    if (b.pending > 0 && --b.pending == 0) b.ready = true;
  }
  changed_.notify_all();
}

void DataParallel::finish_backward() {
  std::unique_lock<std::mutex> lock(mutex_);
  DSVD_CHECK(armed_, "DataParallel: finish_backward() without prepare_backward()");
  // Parameters the forward did not use got no gradient: zeros, so that every rank reduces them.
  for (auto& b : buckets_) {
    if (b.ready) continue;
    for (size_t k : b.parameters) {
      const Tensor& p = parameters_[k].second;
      if (!p.grad().defined()) p.set_grad(zeros(p.sizes(), p.dtype(), p.device()));
    }
    b.ready = true;
  }
  if (!overlap_) {
    armed_ = false;
    lock.unlock();
    for (auto& b : buckets_) reduce(b);
    return;
  }
  changed_.notify_all();
  changed_.wait(lock, [&] { return next_to_reduce_ == buckets_.size() || error_; });
  armed_ = false;
  if (error_) std::rethrow_exception(error_);
}

// Runs on the communication thread: copies only (copy_ records nothing and is not traced), on
// the gradients' device: the bucket is packed, all-reduced where it lies (NCCL for a GPU, MPI for
// the CPU) and unpacked.
void DataParallel::reduce(Bucket& b) {
  size_t i = 0;
  for (size_t k : b.parameters) {
    const Tensor g = parameters_[k].second.grad();
    DSVD_CHECK(g.dtype() == b.dtype && g.device() == b.flat.device(), "DataParallel: the gradient of '",
               parameters_[k].first, "' is ", dtype_name(g.dtype()), " on ", g.device().str(), ", its bucket ",
               dtype_name(b.dtype), " on ", b.flat.device().str());
    DSVD_CHECK(g.sizes() == b.slots[i].sizes(), "DataParallel: the gradient of '", parameters_[k].first,
               "' has shape ", shape_str(g.sizes()), ", the parameter ", shape_str(b.slots[i].sizes()));
    copy_(b.slots[i++], g);
  }
  communicator_->all_reduce(b.flat, ReduceOp::Average);
  // The averaged gradients stay where they are: each parameter's gradient becomes its view of
  // the bucket (PyTorch's gradient_as_bucket_view), no copy back. The next step's reduce
  // overwrites them, after the optimizer has read them.
  i = 0;
  for (size_t k : b.parameters) parameters_[k].second.set_grad(b.slots[i++]);
}

void DataParallel::communication_loop() {
  std::unique_lock<std::mutex> lock(mutex_);
  while (true) {
    changed_.wait(lock, [&] {
      return stopping_ || (armed_ && !error_ && next_to_reduce_ < buckets_.size() && buckets_[next_to_reduce_].ready);
    });
    if (stopping_) return;
    Bucket& b = buckets_[next_to_reduce_];
    lock.unlock();
    std::exception_ptr failure;
    try {
      reduce(b);
    } catch (...) {
      failure = std::current_exception();
    }
    lock.lock();
    if (failure) error_ = failure;
    else ++next_to_reduce_;
    changed_.notify_all();
  }
}

}  // namespace dsvd::distributed
