// Tensor metadata, the untracked view constructor, and the autograd accessors. The tracked views
// live in ops/shape.cpp, conversions in ops/convert.cpp, printing in tensor/print.cpp.
#include "tensor/tensor.h"

#include <atomic>
#include <cstring>
#include <ostream>

#include "tensor/device_backend.h"

namespace dsvd {

const TensorImpl& Tensor::checked() const {
  DSVD_CHECK(impl_ != nullptr, "use of an undefined tensor (a default-constructed Tensor, or the "
             "grad of a tensor that has not received one)");
  return *impl_;
}

int64_t Tensor::size(int64_t d) const { return sizes()[wrap_dim(d, dim(), "Tensor::size")]; }
int64_t Tensor::stride(int64_t d) const { return strides()[wrap_dim(d, dim(), "Tensor::stride")]; }

int64_t Tensor::numel() const {
  int64_t n = 1;
  for (int64_t s : sizes()) n *= s;
  return n;
}

bool Tensor::is_contiguous() const {
  int64_t expected = 1;
  const auto& sz = sizes();
  const auto& st = strides();
  for (size_t i = sz.size(); i-- > 0;) {
    if (sz[i] == 1) continue;
    if (st[i] != expected) return false;
    expected *= sz[i];
  }
  return true;
}

bool Tensor::shares_storage_with(const Tensor& other) const {
  return defined() && other.defined() && impl_->storage == other.impl_->storage;
}

void* Tensor::data_ptr() const {
  const auto& impl = checked();
  return static_cast<char*>(impl.storage->data) + impl.offset * int64_t(itemsize(impl.dtype));
}

Tensor& Tensor::requires_grad_(bool on) {
  auto& impl = const_cast<TensorImpl&>(checked());
  if (!on) {
    DSVD_CHECK(impl.grad_fn == nullptr, "requires_grad_(false): only a leaf can stop requiring grad; "
               "use detach() on a result of an op");
  } else {
    DSVD_CHECK(is_floating(impl.dtype), "requires_grad_: only float32/float64 tensors can require "
               "grad, this one is ", dtype_name(impl.dtype));
  }
  impl.requires_grad = on;
  return *this;
}

Tensor Tensor::grad() const {
  const auto& impl = checked();
  return impl.grad ? Tensor(impl.grad) : Tensor();
}

void Tensor::register_post_accumulate_grad_hook(std::function<void()> hook) {
  auto& impl = const_cast<TensorImpl&>(checked());
  DSVD_CHECK(impl.requires_grad && !impl.grad_fn, "register_post_accumulate_grad_hook: only a leaf that requires grad "
             "accumulates a gradient");
  impl.post_accumulate_grad_hooks.push_back(std::move(hook));
}

void Tensor::set_grad(const Tensor& g) const {
  auto& impl = const_cast<TensorImpl&>(checked());
  if (g.defined()) {
    DSVD_CHECK(g.sizes() == impl.sizes, "set_grad: gradient of shape ", shape_str(g.sizes()),
               " does not match the tensor's shape ", shape_str(impl.sizes));
  }
  impl.grad = g.impl();
}

void Tensor::zero_grad() const { const_cast<TensorImpl&>(checked()).grad.reset(); }

Tensor Tensor::detach() const {
  const auto& impl = checked();
  auto out = std::make_shared<TensorImpl>();
  out->storage = impl.storage;
  out->sizes = impl.sizes;
  out->strides = impl.strides;
  out->offset = impl.offset;
  out->dtype = impl.dtype;
  return Tensor(out);
}

namespace {
std::atomic<uint64_t> host_value_read_count{0};
}  // namespace

namespace detail {
void count_host_value_read() { host_value_read_count.fetch_add(1, std::memory_order_relaxed); }
}  // namespace detail

uint64_t host_value_reads() { return host_value_read_count.load(std::memory_order_relaxed); }

double Tensor::item() const {
  DSVD_CHECK(numel() == 1, "item(): only a tensor with one element can be converted to a number, "
             "this one has shape ", shape_str(sizes()));
  if (!device().is_cpu()) return to(Device::cpu()).item();
  detail::count_host_value_read();
  return DSVD_DISPATCH_STORAGE(dtype(), "item", [&] { return value_cast<double>(*static_cast<scalar_t*>(data_ptr())); });
}

std::ostream& operator<<(std::ostream& os, const Tensor& t) { return os << t.str(); }

Tensor empty(const Shape& sizes, DType dtype) { return empty(sizes, dtype, Device::cpu()); }

Tensor empty(const Shape& sizes, DType dtype, Device device, MemoryFormat format) {
  Tensor t = empty(sizes, dtype, device);
  if (format != MemoryFormat::Contiguous) t.impl()->strides = strides_for(sizes, format);
  return t;
}

Tensor empty(const Shape& sizes, DType dtype, Device device) {
  int64_t n = checked_numel(sizes, "empty");
  size_t bytes = 0;
  DSVD_CHECK(!__builtin_mul_overflow(size_t(n), itemsize(dtype), &bytes), "empty: shape ",
             shape_str(sizes), " of ", dtype_name(dtype), " needs more bytes than fit in 64 bits");
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = device.is_cpu() ? Storage::allocate_cpu(bytes, "empty")
                                  : device_backend(device, "empty").allocate(bytes, device.index, "empty");
  impl->sizes = sizes;
  impl->strides = contiguous_strides(sizes);
  impl->dtype = dtype;
  return Tensor(impl);
}

Tensor make_view(const Tensor& base, const Shape& sizes, const Shape& strides, int64_t offset) {
  DSVD_CHECK(sizes.size() == strides.size(), "make_view: ", sizes.size(), " sizes but ",
             strides.size(), " strides");
  // The furthest element the view can reach must lie inside the storage.
  int64_t lo = offset, hi = offset;
  bool empty_view = false;
  for (size_t i = 0; i < sizes.size(); ++i) {
    if (sizes[i] == 0) empty_view = true;
    if (sizes[i] <= 0) continue;
    int64_t reach = (sizes[i] - 1) * strides[i];
    (reach < 0 ? lo : hi) += reach;
  }
  int64_t capacity = int64_t(base.impl()->storage->nbytes / itemsize(base.dtype()));
  DSVD_CHECK(empty_view || (lo >= 0 && hi < capacity), "make_view: view of shape ", shape_str(sizes),
             " with strides ", shape_str(strides), " at offset ", offset,
             " reaches outside its storage of ", capacity, " elements");
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = base.impl()->storage;
  impl->sizes = sizes;
  impl->strides = strides;
  impl->offset = offset;
  impl->dtype = base.dtype();
  return Tensor(impl);
}

}  // namespace dsvd
