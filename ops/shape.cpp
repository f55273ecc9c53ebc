// Views and joins, tracked by autograd: view, reshape, transpose, permute, slice/narrow, select,
// expand, squeeze, unsqueeze, flatten; cat and stack.
//
// A view shares storage with its input. Backward of a view maps g back to the input's geometry:
// reshape-like views reshape g back; transpose/permute apply the inverse permutation; slice and
// select scatter g into zeros of the input's shape; expand sums over the expanded dimensions.
#include <numeric>

#include "ops/cpu/copy_kernel.h"
#include "ops/internal.h"

namespace dsvd {
namespace {

Tensor record_view(const char* name, const Tensor& input, Tensor view, FunctionNode::Backward backward) {
  return record_op(name, {std::move(view)}, {input}, {}, std::move(backward))[0];
}

// Backward of slice/select: g placed at the view's position inside zeros of the input's shape.
struct ScatterIntoZeros {
  Shape input_sizes;
  DType dtype;
  int64_t dim, start, step;
  bool keeps_dim;  // slice keeps `dim`; select removes it
  std::vector<Tensor> operator()(const std::vector<Tensor>& g, FunctionNode&) const {
    Tensor out = zeros(input_sizes, dtype, g[0].device());
    Shape strides = out.strides();
    Shape sizes = input_sizes;
    int64_t offset = start * strides[size_t(dim)];
    if (keeps_dim) {
      sizes[size_t(dim)] = g[0].size(dim);
      strides[size_t(dim)] *= step;
    } else {
      sizes.erase(sizes.begin() + dim);
      strides.erase(strides.begin() + dim);
    }
    detail::copy_raw(make_view(out, sizes, strides, offset), g[0]);
    return {out};
  }
};

Shape infer_size(const Shape& requested, int64_t numel, const char* op, const Shape& from) {
  Shape sizes = requested;
  int64_t known = 1, infer_at = -1;
  for (size_t i = 0; i < sizes.size(); ++i) {
    if (sizes[i] == -1) {
      DSVD_CHECK(infer_at < 0, op, ": only one dimension can be -1, got ", shape_str(requested));
      infer_at = int64_t(i);
    } else {
      DSVD_CHECK(sizes[i] >= 0, op, ": invalid size ", sizes[i], " in ", shape_str(requested));
      known *= sizes[i];
    }
  }
  if (infer_at >= 0) {
    DSVD_CHECK(known > 0 && numel % known == 0, op, ": cannot infer -1 in ", shape_str(requested),
               " for a tensor of shape ", shape_str(from), " (", numel, " elements)");
    sizes[size_t(infer_at)] = numel / known;
    known *= sizes[size_t(infer_at)];
  }
  DSVD_CHECK(known == numel, op, ": shape ", shape_str(requested), " is invalid for a tensor of shape ",
             shape_str(from), " (", numel, " elements)");
  return sizes;
}

}  // namespace

Tensor Tensor::view(const Shape& requested) const {
  Shape sizes = infer_size(requested, numel(), "view", this->sizes());
  DSVD_CHECK(is_contiguous(), "view: tensor of shape ", shape_str(this->sizes()), " with strides ",
             shape_str(strides()), " is not contiguous; use reshape() (which copies) or contiguous() first");
  Shape original = this->sizes();
  return record_view("view", *this, make_view(*this, sizes, contiguous_strides(sizes), offset()),
                     [original](const std::vector<Tensor>& g, FunctionNode&) {
                       return std::vector<Tensor>{g[0].reshape(original)};
                     });
}

Tensor Tensor::reshape(const Shape& requested) const {
  return is_contiguous() ? view(requested) : contiguous().view(requested);
}

Tensor Tensor::flatten(int64_t start_dim, int64_t end_dim) const {
  if (dim() == 0) return reshape({1});
  int64_t s = wrap_dim(start_dim, dim(), "flatten"), e = wrap_dim(end_dim, dim(), "flatten");
  DSVD_CHECK(s <= e, "flatten: start_dim ", start_dim, " comes after end_dim ", end_dim);
  Shape sizes(this->sizes().begin(), this->sizes().begin() + s);
  int64_t merged = 1;
  for (int64_t d = s; d <= e; ++d) merged *= size(d);
  sizes.push_back(merged);
  sizes.insert(sizes.end(), this->sizes().begin() + e + 1, this->sizes().end());
  return reshape(sizes);
}

Tensor Tensor::transpose(int64_t dim0, int64_t dim1) const {
  int64_t a = wrap_dim(dim0, dim(), "transpose"), b = wrap_dim(dim1, dim(), "transpose");
  Shape sizes = this->sizes(), strides = this->strides();
  std::swap(sizes[size_t(a)], sizes[size_t(b)]);
  std::swap(strides[size_t(a)], strides[size_t(b)]);
  return record_view("transpose", *this, make_view(*this, sizes, strides, offset()),
                     [a, b](const std::vector<Tensor>& g, FunctionNode&) {
                       return std::vector<Tensor>{g[0].transpose(a, b)};
                     });
}

Tensor Tensor::t() const {
  DSVD_CHECK(dim() <= 2, "t(): expects a tensor with at most 2 dimensions, got shape ", shape_str(sizes()),
             "; use transpose(dim0, dim1)");
  return dim() < 2 ? *this : transpose(0, 1);
}

Tensor Tensor::permute(const Shape& dims) const {
  DSVD_CHECK(int64_t(dims.size()) == dim(), "permute: got ", dims.size(), " dimensions ", shape_str(dims),
             " for a tensor with ", dim());
  Shape sizes(dims.size()), strides(dims.size()), inverse(dims.size(), -1);
  for (size_t i = 0; i < dims.size(); ++i) {
    int64_t d = wrap_dim(dims[i], dim(), "permute");
    DSVD_CHECK(inverse[size_t(d)] < 0, "permute: dimension ", d, " repeats in ", shape_str(dims));
    inverse[size_t(d)] = int64_t(i);
    sizes[i] = size(d);
    strides[i] = stride(d);
  }
  return record_view("permute", *this, make_view(*this, sizes, strides, offset()),
                     [inverse](const std::vector<Tensor>& g, FunctionNode&) {
                       return std::vector<Tensor>{g[0].permute(inverse)};
                     });
}

Tensor Tensor::slice(int64_t d, int64_t start, int64_t end, int64_t step) const {
  d = wrap_dim(d, dim(), "slice");
  DSVD_CHECK(step > 0, "slice: step must be positive, got ", step);
  int64_t n = size(d);
  // Python semantics: negative indices count from the end; out-of-range bounds are clamped.
  if (start < 0) start += n;
  if (end < 0) end += n;
  start = std::clamp<int64_t>(start, 0, n);
  end = std::clamp<int64_t>(end, start, n);
  Shape sizes = this->sizes(), strides = this->strides();
  sizes[size_t(d)] = (end - start + step - 1) / step;
  strides[size_t(d)] *= step;
  Tensor v = make_view(*this, sizes, strides, offset() + start * stride(d));
  return record_view("slice", *this, v, ScatterIntoZeros{this->sizes(), dtype(), d, start, step, true});
}

Tensor Tensor::narrow(int64_t d, int64_t start, int64_t length) const {
  d = wrap_dim(d, dim(), "narrow");
  DSVD_CHECK(start >= -size(d) && start <= size(d), "narrow: start ", start, " is out of range for dimension ",
             d, " of size ", size(d));
  if (start < 0) start += size(d);
  DSVD_CHECK(length >= 0 && start + length <= size(d), "narrow: start ", start, " + length ", length,
             " exceeds dimension ", d, " of size ", size(d), " (shape ", shape_str(sizes()), ")");
  return slice(d, start, start + length);
}

Tensor Tensor::select(int64_t d, int64_t index) const {
  d = wrap_dim(d, dim(), "select");
  DSVD_CHECK(index >= -size(d) && index < size(d), "select: index ", index, " is out of range for dimension ",
             d, " of size ", size(d), " (shape ", shape_str(sizes()), ")");
  if (index < 0) index += size(d);
  Shape sizes = this->sizes(), strides = this->strides();
  sizes.erase(sizes.begin() + d);
  strides.erase(strides.begin() + d);
  Tensor v = make_view(*this, sizes, strides, offset() + index * stride(d));
  return record_view("select", *this, v, ScatterIntoZeros{this->sizes(), dtype(), d, index, 1, false});
}

Tensor Tensor::expand(const Shape& requested) const {
  DSVD_CHECK(requested.size() >= sizes().size(), "expand: cannot expand shape ", shape_str(sizes()),
             " to fewer dimensions ", shape_str(requested));
  Shape target = requested;
  size_t lead = requested.size() - sizes().size();
  for (size_t i = 0; i < target.size(); ++i) {
    if (target[i] == -1) {
      DSVD_CHECK(i >= lead, "expand: -1 is not allowed for a new leading dimension (", shape_str(requested), ")");
      target[i] = sizes()[i - lead];
    }
  }
  Shape original = sizes();
  DType source = dtype();
  return record_view("expand", *this, detail::expand_raw(*this, target, "expand"),
                     [original, source](const std::vector<Tensor>& g, FunctionNode&) {
                       return std::vector<Tensor>{detail::grad_to(g[0], original, source)};
                     });
}

Tensor Tensor::squeeze() const {
  Shape sizes;
  for (int64_t s : this->sizes())
    if (s != 1) sizes.push_back(s);
  return reshape_like_view("squeeze", sizes);
}

Tensor Tensor::squeeze(int64_t d) const {
  d = wrap_dim(d, dim(), "squeeze");
  if (size(d) != 1) return *this;
  Shape sizes = this->sizes();
  sizes.erase(sizes.begin() + d);
  return reshape_like_view("squeeze", sizes);
}

Tensor Tensor::unsqueeze(int64_t d) const {
  d = wrap_dim(d, dim() + 1, "unsqueeze");
  Shape sizes = this->sizes();
  sizes.insert(sizes.begin() + d, 1);
  return reshape_like_view("unsqueeze", sizes);
}

// squeeze/unsqueeze keep the strides of the remaining dimensions, so they work on any layout.
Tensor Tensor::reshape_like_view(const char* name, const Shape& sizes) const {
  Shape strides;
  size_t src = 0;
  for (int64_t s : sizes) {
    while (src < this->sizes().size() && this->sizes()[src] == 1 && s != 1) ++src;
    if (src < this->sizes().size() && this->sizes()[src] == s) {
      strides.push_back(this->strides()[src++]);
    } else {
      strides.push_back(1);  // a new size-1 dimension: its stride never matters
    }
  }
  while (src < this->sizes().size()) {
    DSVD_CHECK(this->sizes()[src] == 1, name, ": internal error mapping ", shape_str(this->sizes()), " to ", shape_str(sizes));
    ++src;
  }
  Shape original = this->sizes();
  return record_view(name, *this, make_view(*this, sizes, strides, offset()),
                     [original](const std::vector<Tensor>& g, FunctionNode&) {
                       return std::vector<Tensor>{g[0].reshape(original)};
                     });
}

Tensor cat(const std::vector<Tensor>& tensors, int64_t dim) {
  DSVD_CHECK(!tensors.empty(), "cat: expects at least one tensor");
  const Tensor& first = tensors[0];
  int64_t d = wrap_dim(dim, first.dim(), "cat");
  Shape sizes = first.sizes();
  sizes[size_t(d)] = 0;
  for (size_t i = 0; i < tensors.size(); ++i) {
    const Tensor& t = tensors[i];
    DSVD_CHECK(t.dim() == first.dim(), "cat: tensor ", i, " has ", t.dim(), " dimensions, tensor 0 has ", first.dim());
    DSVD_CHECK(t.dtype() == first.dtype(), "cat: tensor ", i, " is ", dtype_name(t.dtype()), ", tensor 0 is ",
               dtype_name(first.dtype()), "; convert with .to() first");
    for (int64_t k = 0; k < t.dim(); ++k)
      DSVD_CHECK(k == d || t.size(k) == first.size(k), "cat: tensor ", i, " has shape ", shape_str(t.sizes()),
                 ", incompatible with tensor 0's ", shape_str(first.sizes()), " outside dimension ", d);
    sizes[size_t(d)] += t.size(d);
  }
  for (size_t i = 1; i < tensors.size(); ++i)
    DSVD_CHECK(tensors[i].device() == first.device(), "cat: tensor ", i, " is on ", tensors[i].device().str(),
               ", tensor 0 on ", first.device().str());
  Tensor out = empty(sizes, first.dtype(), first.device());
  std::vector<int64_t> lengths;
  int64_t at = 0;
  for (const Tensor& t : tensors) {
    Shape part = out.sizes();
    part[size_t(d)] = t.size(d);
    detail::copy_raw(make_view(out, part, out.strides(), at * out.stride(d)), t);
    lengths.push_back(t.size(d));
    at += t.size(d);
  }
  return record_op("cat", {out}, tensors, {}, [d, lengths](const std::vector<Tensor>& g, FunctionNode&) {
    std::vector<Tensor> grads;
    int64_t start = 0;
    for (int64_t len : lengths) {
      grads.push_back(g[0].narrow(d, start, len));
      start += len;
    }
    return grads;
  })[0];
}

Tensor stack(const std::vector<Tensor>& tensors, int64_t dim) {
  DSVD_CHECK(!tensors.empty(), "stack: expects at least one tensor");
  int64_t d = wrap_dim(dim, tensors[0].dim() + 1, "stack");
  std::vector<Tensor> parts;
  for (size_t i = 0; i < tensors.size(); ++i) {
    DSVD_CHECK(tensors[i].sizes() == tensors[0].sizes(), "stack: tensor ", i, " has shape ",
               shape_str(tensors[i].sizes()), ", tensor 0 has ", shape_str(tensors[0].sizes()));
    parts.push_back(tensors[i].unsqueeze(d));
  }
  return cat(parts, d);
}

}  // namespace dsvd
