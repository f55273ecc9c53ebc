// Shapes and strides (in elements), with the checked arithmetic every op needs: numel without
// overflow, dimension wrapping for negative indices, contiguous strides, broadcasting.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace dsvd {

using Shape = std::vector<int64_t>;

std::string shape_str(const Shape& shape);  // "[2, 3]"
// Product of the sizes; throws dsvd::Error naming `what` if a size is negative or it overflows.
int64_t checked_numel(const Shape& sizes, const char* what = "tensor");
Shape contiguous_strides(const Shape& sizes);
// Wraps a possibly negative dim into [0, ndim); throws naming the op when out of range.
int64_t wrap_dim(int64_t dim, int64_t ndim, const char* op);
// numpy broadcasting of two shapes; throws naming the op and both shapes when incompatible.
Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op);

}  // namespace dsvd
