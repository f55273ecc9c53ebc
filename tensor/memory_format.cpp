#include "tensor/memory_format.h"

#include "tensor/error.h"
#include "tensor/tensor.h"

namespace dsvd {

const char* memory_format_name(MemoryFormat format) {
  return format == MemoryFormat::ChannelsLast ? "channels-last" : "contiguous";
}

Shape strides_for(const Shape& sizes, MemoryFormat format) {
  if (format == MemoryFormat::Contiguous) return contiguous_strides(sizes);
  DSVD_CHECK(sizes.size() == 4, "channels-last: needs a 4-D (N, C, H, W) shape, got ", shape_str(sizes));
  const int64_t c = sizes[1], h = sizes[2], w = sizes[3];
  return {h * w * c, 1, w * c, c};
}

bool is_dense_in(const Tensor& t, MemoryFormat format) {
  if (format == MemoryFormat::Contiguous) return t.is_contiguous();
  if (t.dim() != 4) return false;
  const Shape expected = strides_for(t.sizes(), format);
  for (size_t d = 0; d < 4; ++d)
    if (t.sizes()[d] != 1 && t.strides()[d] != expected[d]) return false;
  return true;
}

MemoryFormat memory_format_of(const Tensor& t) {
  return t.dim() == 4 && !t.is_contiguous() && is_dense_in(t, MemoryFormat::ChannelsLast) ? MemoryFormat::ChannelsLast
                                                                                            : MemoryFormat::Contiguous;
}

}  // namespace dsvd
