#include "tensor/dtype.h"

namespace dsvd {

size_t itemsize(DType dtype) {
  switch (dtype) {
    case DType::Float32: return 4;
    case DType::Float64: return 8;
    case DType::Int64: return 8;
    case DType::UInt8: return 1;
    case DType::BFloat16: return 2;
    case DType::Float16: return 2;
  }
  fail("itemsize: unknown dtype code ", int(dtype));
}

const char* dtype_name(DType dtype) {
  switch (dtype) {
    case DType::Float32: return "float32";
    case DType::Float64: return "float64";
    case DType::Int64: return "int64";
    case DType::UInt8: return "uint8";
    case DType::BFloat16: return "bfloat16";
    case DType::Float16: return "float16";
  }
  return "unknown";
}

DType dtype_from_name(const std::string& name, const char* what) {
  for (DType d : {DType::Float32, DType::Float64, DType::Int64, DType::UInt8, DType::BFloat16, DType::Float16})
    if (name == dtype_name(d)) return d;
  if (name == "bf16") return DType::BFloat16;
  if (name == "fp16" || name == "half") return DType::Float16;
  if (name == "fp32") return DType::Float32;
  if (name == "fp64") return DType::Float64;
  fail(what, ": unknown dtype '", name, "' (float32, float64, bfloat16 (bf16), float16 (fp16), int64, uint8)");
}

bool is_floating(DType dtype) {
  return dtype == DType::Float32 || dtype == DType::Float64 || is_reduced_float(dtype);
}

bool is_reduced_float(DType dtype) { return dtype == DType::BFloat16 || dtype == DType::Float16; }

double machine_epsilon(DType dtype) {
  if (dtype == DType::Float64) return 2.220446049250313e-16;   // 2^-52
  if (dtype == DType::Float32) return 1.1920928955078125e-07;  // 2^-23
  if (dtype == DType::BFloat16) return 0.0078125;              // 2^-7
  if (dtype == DType::Float16) return 0.0009765625;            // 2^-10
  fail("machine_epsilon: ", dtype_name(dtype), " is not a floating dtype");
}

static int promotion_rank(DType d) {
  switch (d) {
    case DType::UInt8: return 0;
    case DType::Int64: return 1;
    case DType::BFloat16: return 2;
    case DType::Float16: return 2;
    case DType::Float32: return 3;
    case DType::Float64: return 4;
  }
  return 0;
}

DType promote_types(DType a, DType b) {
  if (a != b && is_reduced_float(a) && is_reduced_float(b)) return DType::Float32;
  return promotion_rank(a) >= promotion_rank(b) ? a : b;
}

void fail_dtype(const char* op, DType got, const char* expected) {
  fail(op, ": expected a tensor of dtype ", expected, ", got ", dtype_name(got));
}

}  // namespace dsvd
