#include "serialization/rebuild_tensor.h"

#include <cstring>

#include "tensor/error.h"

namespace dsvd::serialization {
namespace {

std::vector<int64_t> int_tuple(const Value& v, const char* field, const std::string& what) {
  DSVD_CHECK(v.kind == Value::Kind::Tuple, what, ": a tensor's ", field, " is a ", v.kind_name(), ", not a tuple");
  DSVD_CHECK(v.items.size() <= 16, what, ": a tensor with ", v.items.size(), " dimensions (at most 16 are read)");
  std::vector<int64_t> out;
  for (const auto& item : v.items) {
    DSVD_CHECK(item->kind == Value::Kind::Int && item->integer >= 0, what, ": a tensor's ", field,
               " holds a ", item->kind == Value::Kind::Int ? "negative number" : item->kind_name());
    out.push_back(item->integer);
  }
  return out;
}

template <typename T>
T read_little(const unsigned char* p) {
  T v;
  std::memcpy(&v, p, sizeof v);  // the files are little-endian, as this machine is
  return v;
}

DType target_dtype(StorageType t) {
  switch (t) {
    case StorageType::Float32:
    case StorageType::Float16:
    case StorageType::BFloat16: return DType::Float32;
    case StorageType::Float64: return DType::Float64;
    case StorageType::UInt8:
    case StorageType::Bool: return DType::UInt8;
    default: return DType::Int64;
  }
}

// Element `index` of the storage as the target dtype's C++ type.
template <typename Out>
Out element(const Storage& s, int64_t index) {
  const unsigned char* p = s.data + index * storage_element_size(s.type);
  switch (s.type) {
    case StorageType::Float32: return Out(read_little<float>(p));
    case StorageType::Float64: return Out(read_little<double>(p));
    case StorageType::Float16: return Out(half_to_float(read_little<uint16_t>(p)));
    case StorageType::BFloat16: return Out(bfloat16_to_float(read_little<uint16_t>(p)));
    case StorageType::Int64: return Out(read_little<int64_t>(p));
    case StorageType::Int32: return Out(read_little<int32_t>(p));
    case StorageType::Int16: return Out(read_little<int16_t>(p));
    case StorageType::Int8: return Out(read_little<int8_t>(p));
    case StorageType::UInt8: return Out(*p);
    case StorageType::Bool: return Out(*p != 0);
  }
  return Out(0);
}

}  // namespace

float half_to_float(uint16_t h) {
  const uint32_t sign = uint32_t(h >> 15) << 31, exponent = (h >> 10) & 0x1f, mantissa = h & 0x3ff;
  uint32_t bits;
  if (exponent == 0x1f) {
    bits = sign | 0x7f800000u | (mantissa << 13);  // inf, NaN
  } else if (exponent != 0) {
    bits = sign | ((exponent + 112) << 23) | (mantissa << 13);  // normal: rebias 15 -> 127
  } else if (mantissa == 0) {
    bits = sign;  // ±0
  } else {  // subnormal: mantissa · 2^-24
    float f = float(mantissa) * (1.0f / 16777216.0f);
    return sign ? -f : f;
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

float bfloat16_to_float(uint16_t b) {
  const uint32_t bits = uint32_t(b) << 16;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

Tensor rebuild_tensor(const Value& storage_value, const Value& offset_value, const Value& sizes_value,
                      const Value& strides_value, const std::string& what) {
  DSVD_CHECK(storage_value.kind == Value::Kind::Storage && storage_value.storage, what,
             ": _rebuild_tensor_v2's first argument is a ", storage_value.kind_name(), ", not a storage");
  const Storage& s = *storage_value.storage;
  DSVD_CHECK(offset_value.kind == Value::Kind::Int && offset_value.integer >= 0, what,
             ": a tensor's storage offset is not a non-negative int");
  const std::vector<int64_t> sizes = int_tuple(sizes_value, "size", what);
  const std::vector<int64_t> strides = int_tuple(strides_value, "stride", what);
  DSVD_CHECK(sizes.size() == strides.size(), what, ": a tensor with ", sizes.size(), " sizes and ", strides.size(),
             " strides");
  int64_t numel = 1, last = offset_value.integer;  // `last`: the largest storage index the view reads
  for (size_t d = 0; d < sizes.size(); ++d) {
    DSVD_CHECK(sizes[d] == 0 || numel <= kMaxTensorElements / sizes[d], what, ": a tensor of shape ",
               shape_str(sizes), " has more than 2^31 elements");
    numel *= sizes[d];
  }
  if (numel > 0)
    for (size_t d = 0; d < sizes.size(); ++d) {
      DSVD_CHECK(strides[d] <= kMaxTensorElements, what, ": stride ", strides[d], " is out of range");
      last += (sizes[d] - 1) * strides[d];
    }
  DSVD_CHECK(numel == 0 || last < s.numel, what, ": a tensor of shape ", shape_str(sizes), " at offset ",
             offset_value.integer, " reads element ", last, " of storage '", storage_value.storage_key, "', which has ",
             s.numel);
  if (!s.data) return Tensor();  // a storage whose data comes later (the legacy format's first pass)
  Tensor out = empty(sizes, target_dtype(s.type));
  if (numel == 0) return out;
  // Walk the view's indices in row-major order.
  std::vector<int64_t> index(sizes.size(), 0);
  DSVD_DISPATCH_ALL(out.dtype(), "load", [&] {
    scalar_t* dst = out.data<scalar_t>();
    int64_t at = offset_value.integer;
    for (int64_t i = 0; i < numel; ++i) {
      dst[i] = element<scalar_t>(s, at);
      for (size_t d = sizes.size(); d-- > 0;) {
        if (++index[d] < sizes[d]) {
          at += strides[d];
          break;
        }
        at -= (sizes[d] - 1) * strides[d];
        index[d] = 0;
      }
    }
  });
  return out;
}

}  // namespace dsvd::serialization
