// torch._utils._rebuild_tensor_v2 made safe: a dsvd tensor from a storage, an element offset, sizes
// and strides, with every index bounded by the storage. The elements are copied (into a
// contiguous tensor) and converted: float16 and bfloat16 to float32, int32/int16/int8 to int64,
// bool to uint8; float32, float64, int64 and uint8 stay as they are.
#pragma once
#include <string>

#include "serialization/pickle_value.h"

namespace dsvd::serialization {

// The largest tensor read: 2^31 elements (8 GiB of float32), and at most 16 dimensions.
constexpr int64_t kMaxTensorElements = int64_t(1) << 31;

Tensor rebuild_tensor(const Value& storage, const Value& offset, const Value& sizes, const Value& strides,
                      const std::string& what);

// IEEE half and bfloat16 bits to float.
float half_to_float(uint16_t bits);
float bfloat16_to_float(uint16_t bits);

}  // namespace dsvd::serialization
