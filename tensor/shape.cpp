#include "tensor/shape.h"

#include <sstream>

#include "tensor/error.h"

namespace dsvd {

std::string shape_str(const Shape& shape) {
  std::ostringstream s;
  s << '[';
  for (size_t i = 0; i < shape.size(); ++i) s << (i ? ", " : "") << shape[i];
  s << ']';
  return s.str();
}

int64_t checked_numel(const Shape& sizes, const char* what) {
  int64_t n = 1, span = 1;  // span: the product of the non-zero sizes, which the strides reach
  for (int64_t s : sizes) {
    DSVD_CHECK(s >= 0, what, ": negative size in shape ", shape_str(sizes));
    DSVD_CHECK(!__builtin_mul_overflow(n, s, &n), what, ": shape ", shape_str(sizes),
               " has more elements than fit in 64 bits");
    // An empty tensor has no elements, but its strides still multiply the other sizes (found by
    // fuzzing the IDX reader: a zero dimension next to huge ones).
    DSVD_CHECK(!__builtin_mul_overflow(span, s > 0 ? s : 1, &span), what, ": shape ", shape_str(sizes),
               " is too large: its strides do not fit in 64 bits");
  }
  return n;
}

Shape contiguous_strides(const Shape& sizes) {
  Shape strides(sizes.size());
  int64_t stride = 1;
  for (size_t i = sizes.size(); i-- > 0;) {
    strides[i] = stride;
    DSVD_CHECK(!__builtin_mul_overflow(stride, sizes[i] > 0 ? sizes[i] : 1, &stride), "strides of shape ",
               shape_str(sizes), " do not fit in 64 bits");
  }
  return strides;
}

int64_t wrap_dim(int64_t dim, int64_t ndim, const char* op) {
  int64_t lo = ndim > 0 ? -ndim : -1, hi = ndim > 0 ? ndim - 1 : 0;
  DSVD_CHECK(dim >= lo && dim <= hi, op, ": dimension ", dim, " is out of range for a tensor with ",
             ndim, " dimension(s) (expected a value in [", lo, ", ", hi, "])");
  return dim < 0 ? dim + (ndim > 0 ? ndim : 1) : dim;
}

Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op) {
  size_t n = std::max(a.size(), b.size());
  Shape out(n);
  for (size_t i = 0; i < n; ++i) {
    int64_t sa = i < n - a.size() ? 1 : a[i - (n - a.size())];
    int64_t sb = i < n - b.size() ? 1 : b[i - (n - b.size())];
    DSVD_CHECK(sa == sb || sa == 1 || sb == 1, op, ": shapes ", shape_str(a), " and ", shape_str(b),
               " cannot be broadcast together (dimension ", i, ": ", sa, " vs ", sb, ")");
    out[i] = sa == 1 ? sb : sa;
  }
  return out;
}

}  // namespace dsvd
