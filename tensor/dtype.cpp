#include "tensor/dtype.h"

namespace dsvd {

size_t itemsize(DType dtype) {
  switch (dtype) {
    case DType::Float32: return 4;
    case DType::Float64: return 8;
    case DType::Int64: return 8;
    case DType::UInt8: return 1;
  }
  fail("itemsize: unknown dtype code ", int(dtype));
}

const char* dtype_name(DType dtype) {
  switch (dtype) {
    case DType::Float32: return "float32";
    case DType::Float64: return "float64";
    case DType::Int64: return "int64";
    case DType::UInt8: return "uint8";
  }
  return "unknown";
}

bool is_floating(DType dtype) { return dtype == DType::Float32 || dtype == DType::Float64; }

double machine_epsilon(DType dtype) {
  if (dtype == DType::Float64) return 2.220446049250313e-16;   // 2^-52
  if (dtype == DType::Float32) return 1.1920928955078125e-07;  // 2^-23
  fail("machine_epsilon: ", dtype_name(dtype), " is not a floating dtype");
}

static int promotion_rank(DType d) {
  switch (d) {
    case DType::UInt8: return 0;
    case DType::Int64: return 1;
    case DType::Float32: return 2;
    case DType::Float64: return 3;
  }
  return 0;
}

DType promote_types(DType a, DType b) { return promotion_rank(a) >= promotion_rank(b) ? a : b; }

void fail_dtype(const char* op, DType got, const char* expected) {
  fail(op, ": expected a tensor of dtype ", expected, ", got ", dtype_name(got));
}

}  // namespace dsvd
