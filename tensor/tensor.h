// Tensor: a cheap, shared handle to a TensorImpl (storage + sizes/strides/offset + dtype + the
// autograd fields). Copying a Tensor copies the handle, not the data; views share storage.
//
// The view and conversion methods (reshape, transpose, narrow, expand, contiguous, to, ...) are
// recorded by autograd like any op; they are implemented in ops/shape.cpp and ops/convert.cpp.
// Raw, untracked views for kernels are made with make_view() below.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "tensor/device.h"
#include "tensor/dtype.h"
#include "tensor/memory_format.h"
#include "tensor/shape.h"
#include "tensor/storage.h"

namespace dsvd {

class Node;
class Generator;

struct TensorImpl {
  std::shared_ptr<Storage> storage;
  Shape sizes;
  Shape strides;  // in elements
  int64_t offset = 0;  // in elements
  DType dtype = DType::Float32;

  // Autograd. A leaf that requires grad owns `grad`; a non-leaf points at the node that made it.
  bool requires_grad = false;
  std::shared_ptr<TensorImpl> grad;
  std::shared_ptr<Node> grad_fn;
  int output_nr = 0;  // which output of grad_fn this tensor is
  std::weak_ptr<Node> grad_accumulator;  // the leaf's AccumulateGrad node, made on first use
  // Run by AccumulateGrad after it has written `grad` (data parallelism starts reducing a
  // gradient as soon as the backward has produced it).
  std::vector<std::function<void()>> post_accumulate_grad_hooks;
};

class Tensor {
 public:
  Tensor() = default;
  explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}

  bool defined() const { return impl_ != nullptr; }
  const std::shared_ptr<TensorImpl>& impl() const { return impl_; }

  // --- metadata ---
  const Shape& sizes() const { return checked().sizes; }
  const Shape& strides() const { return checked().strides; }
  int64_t size(int64_t dim) const;
  int64_t stride(int64_t dim) const;
  int64_t dim() const { return int64_t(checked().sizes.size()); }
  int64_t numel() const;
  int64_t offset() const { return checked().offset; }
  DType dtype() const { return checked().dtype; }
  Device device() const { return checked().storage->device; }
  bool is_contiguous() const;
  bool shares_storage_with(const Tensor& other) const;
  void* data_ptr() const;  // address of element 0 (storage + offset)
  template <typename T>
  T* data() const {
    if (dtype_of<T>::value != dtype()) fail_dtype("Tensor::data", dtype(), dtype_name(dtype_of<T>::value));
    return static_cast<T*>(data_ptr());
  }

  // --- autograd ---
  bool requires_grad() const { return checked().requires_grad; }
  // Marks a leaf as requiring grad. Only float tensors can; a non-leaf cannot be unmarked.
  Tensor& requires_grad_(bool on = true);
  bool is_leaf() const { return checked().grad_fn == nullptr; }
  const std::shared_ptr<Node>& grad_fn() const { return checked().grad_fn; }
  Tensor grad() const;  // undefined until a backward reached this leaf
  // For a leaf that requires grad: `hook` runs each time a backward has accumulated into grad().
  void register_post_accumulate_grad_hook(std::function<void()> hook);
  void set_grad(const Tensor& grad) const;
  void zero_grad() const;  // drops the accumulated gradient (like PyTorch's set_to_none)
  // Reverse-mode differentiation from this tensor. `gradient` may be omitted for a one-element
  // tensor; retain_graph keeps saved tensors so backward can run through the graph again.
  // (Defined in autograd/engine.cpp, the layer above.)
  void backward(const Tensor& gradient = Tensor(), bool retain_graph = false) const;
  // A new handle on the same storage that is cut from the graph (requires_grad false).
  Tensor detach() const;

  // --- views (share storage; tracked by autograd) ---
  Tensor view(const Shape& sizes) const;     // contiguous data only; one size may be -1
  Tensor reshape(const Shape& sizes) const;  // a view when possible, else a copy
  Tensor transpose(int64_t dim0, int64_t dim1) const;
  Tensor t() const;  // 2-D transpose
  Tensor permute(const Shape& dims) const;
  Tensor narrow(int64_t dim, int64_t start, int64_t length) const;
  Tensor slice(int64_t dim, int64_t start, int64_t end, int64_t step = 1) const;  // python slice
  Tensor select(int64_t dim, int64_t index) const;
  Tensor expand(const Shape& sizes) const;  // -1 keeps a size; new leading dims allowed
  Tensor squeeze() const;
  Tensor squeeze(int64_t dim) const;
  Tensor unsqueeze(int64_t dim) const;
  Tensor flatten(int64_t start_dim = 0, int64_t end_dim = -1) const;

  // --- copies and conversions ---
  Tensor contiguous() const;  // itself when already contiguous
  // Itself when already dense in `format`, else a copy laid out so (tensor/memory_format.h); tracked.
  Tensor contiguous(MemoryFormat format) const;
  Tensor clone() const;       // always a fresh contiguous copy
  Tensor to(DType dtype) const;  // itself when the dtype already matches
  Tensor to(Device device) const;  // a copy on `device` (itself when already there); tracked
  double item() const;           // one-element tensors only (from a GPU: copied, which waits for it)
  template <typename T> T item() const { return static_cast<T>(item()); }
  std::string str() const;  // numpy-like printing, elided when large

 private:
  const TensorImpl& checked() const;
  Tensor reshape_like_view(const char* name, const Shape& sizes) const;
  std::shared_ptr<TensorImpl> impl_;
};

std::ostream& operator<<(std::ostream& os, const Tensor& t);

// --- untracked building blocks for kernels and ops ---
// A tensor over fresh, uninitialised storage on the CPU, or on `device`.
Tensor empty(const Shape& sizes, DType dtype = DType::Float32);
Tensor empty(const Shape& sizes, DType dtype, Device device);
// ... laid out in `format` (ChannelsLast: NHWC in memory, 4-D sizes only).
Tensor empty(const Shape& sizes, DType dtype, Device device, MemoryFormat format);
// A view of `base`'s storage with the given geometry (no autograd, no bounds beyond a check that
// the view stays inside the storage).
Tensor make_view(const Tensor& base, const Shape& sizes, const Shape& strides, int64_t offset);

// --- factories ---
Tensor zeros(const Shape& sizes, DType dtype = DType::Float32);
Tensor zeros(const Shape& sizes, DType dtype, Device device);
Tensor full(const Shape& sizes, double value, DType dtype, Device device);
Tensor ones(const Shape& sizes, DType dtype = DType::Float32);
Tensor full(const Shape& sizes, double value, DType dtype = DType::Float32);
Tensor scalar_tensor(double value, DType dtype = DType::Float32);  // 0-d
// Every element of the contiguous `out` <- value, in place (queued on its device, no wait).
void fill_(const Tensor& out, double value);
Tensor arange(double start, double end, double step = 1, DType dtype = DType::Float32);
Tensor arange(int64_t end, DType dtype = DType::Int64);
Tensor eye(int64_t n, DType dtype = DType::Float32);
// On a GPU: one shared, cached identity per (n, dtype, device); never write into it.
Tensor eye(int64_t n, DType dtype, Device device);
Tensor zeros_like(const Tensor& t);  // same shape, dtype and device
Tensor ones_like(const Tensor& t);
// Random factories draw from `gen`, or from the default generator (see tensor/random.h).
Tensor rand(const Shape& sizes, DType dtype = DType::Float32, Generator* gen = nullptr);   // U[0,1)
Tensor randn(const Shape& sizes, DType dtype = DType::Float32, Generator* gen = nullptr);  // N(0,1)
Tensor randint(int64_t low, int64_t high, const Shape& sizes, DType dtype = DType::Int64,
               Generator* gen = nullptr);  // uniform integers in [low, high)
// A tensor holding a copy of `values`, in the given shape (numel must match).
Tensor from_vector(const std::vector<double>& values, const Shape& sizes, DType dtype = DType::Float64);
// Reads every element (any layout, any dtype, any device) as double, in row-major order.
std::vector<double> to_vector(const Tensor& t);

// How many times this process has read tensor values into host numbers (item(), to_vector()).
// On a GPU every such read waits until the device has run all the work queued before it, so the
// training step keeps them out of its path; the tests count them to hold it to that.
uint64_t host_value_reads();
namespace detail {
void count_host_value_read();  // item() and to_vector() call it once per read
}  // namespace detail

}  // namespace dsvd
