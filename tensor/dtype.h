// Element types of a tensor, their sizes and names, type promotion, and the dispatch macros
// that turn a runtime DType into a compile-time scalar_t for kernels.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

#include "tensor/error.h"
#include "tensor/reduced_float.h"

namespace dsvd {

// BFloat16 and Float16 are the storage dtypes of mixed precision (tensor/reduced_float.h): the
// kernels that accept them compute in float32 and round their results once.
enum class DType : uint8_t { Float32, Float64, Int64, UInt8, BFloat16, Float16 };

size_t itemsize(DType dtype);
const char* dtype_name(DType dtype);  // "float32", "float64", "int64", "uint8", "bfloat16", "float16"
// Parses a dtype_name (and the short names "bf16", "fp16", "fp32", "fp64"); throws naming `what`.
DType dtype_from_name(const std::string& name, const char* what);
bool is_floating(DType dtype);       // float32, float64, bfloat16, float16
bool is_reduced_float(DType dtype);  // bfloat16, float16
// The gap between 1 and the next representable number: 2^-52 for float64, 2^-23 for float32,
// 2^-7 for bfloat16, 2^-10 for float16 (numpy's finfo(dtype).eps); throws for integer dtypes.
double machine_epsilon(DType dtype);
// The dtype an arithmetic op computes in: uint8 < int64 < {bfloat16, float16} < float32 < float64,
// and bfloat16 with float16 gives float32 (as PyTorch does for tensor-tensor arithmetic).
DType promote_types(DType a, DType b);

template <typename T> struct dtype_of;
template <> struct dtype_of<float> { static constexpr DType value = DType::Float32; };
template <> struct dtype_of<double> { static constexpr DType value = DType::Float64; };
template <> struct dtype_of<int64_t> { static constexpr DType value = DType::Int64; };
template <> struct dtype_of<uint8_t> { static constexpr DType value = DType::UInt8; };
template <> struct dtype_of<bfloat16> { static constexpr DType value = DType::BFloat16; };
template <> struct dtype_of<float16> { static constexpr DType value = DType::Float16; };

[[noreturn]] void fail_dtype(const char* op, DType got, const char* expected);

}  // namespace dsvd

// DSVD_DISPATCH_FLOATING(dtype, "op", [&] { kernel<scalar_t>(...); });
#define DSVD_DISPATCH_CASE(ENUM, TYPE, ...) \
  case ::dsvd::DType::ENUM: {               \
    using scalar_t = TYPE;                  \
    return __VA_ARGS__();                   \
  }

// One switch over a list of dtype cases; the lists nest (floating < all < storage), so that each
// dtype's case is written once.
#define DSVD_DISPATCH_SWITCH(DT, NAME, EXPECTED, CASES, ...)                     \
  [&] {                                                                         \
    switch (DT) {                                                               \
      CASES(__VA_ARGS__)                                                        \
      default: ::dsvd::fail_dtype(NAME, DT, EXPECTED);                          \
    }                                                                           \
  }()

#define DSVD_CASES_FLOATING(...)                                                 \
  DSVD_DISPATCH_CASE(Float32, float, __VA_ARGS__)                               \
  DSVD_DISPATCH_CASE(Float64, double, __VA_ARGS__)
#define DSVD_CASES_SIGNED(...)                                                   \
  DSVD_CASES_FLOATING(__VA_ARGS__)                                              \
  DSVD_DISPATCH_CASE(Int64, int64_t, __VA_ARGS__)
#define DSVD_CASES_ALL(...)                                                      \
  DSVD_CASES_SIGNED(__VA_ARGS__)                                                \
  DSVD_DISPATCH_CASE(UInt8, uint8_t, __VA_ARGS__)
#define DSVD_CASES_REDUCED(...)                                                  \
  DSVD_DISPATCH_CASE(BFloat16, ::dsvd::bfloat16, __VA_ARGS__)                   \
  DSVD_DISPATCH_CASE(Float16, ::dsvd::float16, __VA_ARGS__)
#define DSVD_CASES_STORAGE(...)                                                  \
  DSVD_CASES_ALL(__VA_ARGS__)                                                   \
  DSVD_CASES_REDUCED(__VA_ARGS__)
#define DSVD_CASES_FLOATING_AND_REDUCED(...)                                     \
  DSVD_CASES_FLOATING(__VA_ARGS__)                                              \
  DSVD_CASES_REDUCED(__VA_ARGS__)

#define DSVD_DISPATCH_FLOATING(DT, NAME, ...) \
  DSVD_DISPATCH_SWITCH(DT, NAME, "float32 or float64", DSVD_CASES_FLOATING, __VA_ARGS__)
#define DSVD_DISPATCH_SIGNED(DT, NAME, ...) \
  DSVD_DISPATCH_SWITCH(DT, NAME, "float32, float64 or int64", DSVD_CASES_SIGNED, __VA_ARGS__)
#define DSVD_DISPATCH_ALL(DT, NAME, ...) DSVD_DISPATCH_SWITCH(DT, NAME, "a known dtype", DSVD_CASES_ALL, __VA_ARGS__)
// The float dtypes with the 16-bit ones: kernels that take bfloat16/float16 natively.
#define DSVD_DISPATCH_FLOATING_AND_REDUCED(DT, NAME, ...)                                                     \
  DSVD_DISPATCH_SWITCH(DT, NAME, "float32, float64, bfloat16 or float16", DSVD_CASES_FLOATING_AND_REDUCED, \
                       __VA_ARGS__)
// Every storage dtype, the 16-bit floats included: for copies, fills and reads of single values,
// which convert with value_cast (tensor/reduced_float.h).
#define DSVD_DISPATCH_STORAGE(DT, NAME, ...) \
  DSVD_DISPATCH_SWITCH(DT, NAME, "a known dtype", DSVD_CASES_STORAGE, __VA_ARGS__)
