// Copies and conversions: contiguous() (in either memory format), clone(), to(dtype), and sum_to
// (the adjoint of broadcasting), plus the untracked helpers of ops/internal.h.
//
// Backward: clone and contiguous pass g through; to(dtype) casts g back to the source dtype.
#include <cmath>

#include "ops/internal.h"
#include "ops/kernel_table.h"
#include "ops/kernels/elementwise.h"

namespace dsvd {

namespace detail {

Tensor expand_raw(const Tensor& t, const Shape& shape, const char* op) {
  if (t.sizes() == shape) return t;
  DSVD_CHECK(shape.size() >= t.sizes().size(), op, ": cannot expand shape ", shape_str(t.sizes()),
             " to fewer dimensions ", shape_str(shape));
  size_t lead = shape.size() - t.sizes().size();
  Shape strides(shape.size(), 0);
  for (size_t d = 0; d < t.sizes().size(); ++d) {
    int64_t have = t.sizes()[d], want = shape[lead + d];
    DSVD_CHECK(have == want || have == 1, op, ": cannot expand shape ", shape_str(t.sizes()), " to ",
               shape_str(shape), " (dimension ", d, " has size ", have, ", wanted ", want, ")");
    strides[lead + d] = have == want ? t.strides()[d] : 0;
  }
  return make_view(t, shape, strides, t.offset());
}

void copy_raw(const Tensor& dst, const Tensor& src) {
  // A copy between the CPU and a device is the device's kernel.
  const Device device = dst.device().is_cpu() ? src.device() : dst.device();
  kernels::dispatch<kernels::CopyKernel>(device)(dst, src);
}

Tensor convert_raw(const Tensor& t, DType dtype) {
  if (t.dtype() == dtype) return t;
  Tensor out = empty(t.sizes(), dtype, t.device(), memory_format_of(t));
  copy_raw(out, t);
  return out;
}

Tensor contiguous_raw(const Tensor& t) { return contiguous_raw(t, MemoryFormat::Contiguous); }

Tensor contiguous_raw(const Tensor& t, MemoryFormat format) {
  if (is_dense_in(t, format)) return t;
  Tensor out = empty(t.sizes(), t.dtype(), t.device(), format);
  copy_raw(out, t);
  return out;
}

Tensor empty_following(const Shape& shape, DType dtype, Device device, std::initializer_list<Tensor> operands) {
  for (const Tensor& t : operands)
    if (t.defined() && t.sizes() == shape && memory_format_of(t) == MemoryFormat::ChannelsLast)
      return empty(shape, dtype, device, MemoryFormat::ChannelsLast);
  return empty(shape, dtype, device);
}

Tensor grad_to(const Tensor& g, const Shape& shape, DType dtype) {
  Tensor r = sum_to(g, shape);
  return r.dtype() == dtype ? r : r.to(dtype);
}

Tensor scalar_like(const Tensor& t, double value) {
  DType dtype = t.dtype();
  if (!is_floating(dtype) && value != std::floor(value)) dtype = DType::Float32;
  return scalar_tensor(value, dtype);  // on the CPU: device kernels take a 0-d CPU operand by value
}

}  // namespace detail

void copy_(const Tensor& dst, const Tensor& src) {
  DSVD_CHECK(dst.defined() && src.defined(), "copy_: an operand is an undefined tensor");
  DSVD_CHECK(dst.sizes() == src.sizes(), "copy_: destination shape ", shape_str(dst.sizes()), " differs from source shape ",
             shape_str(src.sizes()));
  detail::copy_raw(dst, src);
}

Tensor Tensor::clone() const {
  Tensor out = empty(sizes(), dtype(), device());
  detail::copy_raw(out, *this);
  return record_op("clone", {out}, {*this}, {}, [](const std::vector<Tensor>& g, FunctionNode&) {
    return std::vector<Tensor>{g[0]};
  })[0];
}

Tensor Tensor::contiguous() const { return contiguous(MemoryFormat::Contiguous); }

Tensor Tensor::contiguous(MemoryFormat format) const {
  if (is_dense_in(*this, format)) return *this;
  Tensor out = detail::contiguous_raw(*this, format);
  return record_op("contiguous", {out}, {*this}, {}, [](const std::vector<Tensor>& g, FunctionNode&) {
    return std::vector<Tensor>{g[0]};
  })[0];
}

Tensor Tensor::to(DType target) const {
  if (dtype() == target) return *this;
  Tensor out = detail::convert_raw(*this, target);
  DType source = dtype();
  return record_op("to", {out}, {*this}, {}, [source](const std::vector<Tensor>& g, FunctionNode&) {
    return std::vector<Tensor>{g[0].to(source)};
  })[0];
}

Tensor Tensor::to(Device target) const {
  if (device() == target) return *this;
  Tensor out = empty(sizes(), dtype(), target);
  detail::copy_raw(out, *this);
  Device source = device();
  return record_op("to_device", {out}, {*this}, {}, [source](const std::vector<Tensor>& g, FunctionNode&) {
    return std::vector<Tensor>{g[0].to(source)};
  })[0];
}

Tensor sum_to(const Tensor& x, const Shape& shape) {
  if (x.sizes() == shape) return x;
  DSVD_CHECK(shape.size() <= x.sizes().size(), "sum_to: cannot reduce shape ", shape_str(x.sizes()),
             " to the larger rank of ", shape_str(shape));
  size_t lead = x.sizes().size() - shape.size();
  Shape dims;
  for (size_t d = 0; d < x.sizes().size(); ++d) {
    if (d < lead) dims.push_back(int64_t(d));
    else if (shape[d - lead] == 1 && x.sizes()[d] != 1) dims.push_back(int64_t(d));
    else DSVD_CHECK(shape[d - lead] == x.sizes()[d], "sum_to: shape ", shape_str(x.sizes()),
                    " does not broadcast to ", shape_str(shape));
  }
  Tensor r = dims.empty() ? x : sum(x, dims, /*keepdim=*/true);
  return r.reshape(shape);
}

}  // namespace dsvd
