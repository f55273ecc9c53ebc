// The two 16-bit floating types of mixed precision, as storage: bfloat16 (8 exponent bits, 7
// mantissa bits: float32's range, 2-3 significant digits) and float16 (IEEE binary16: 5 exponent
// bits, 10 mantissa bits, largest finite 65504). dsvd never computes in them: kernels widen to
// float32, compute, and round the result once with round-to-nearest-even, as tensor cores do.
//
// The conversions are integer bit manipulation, so that the CPU and the GPU round alike (no
// dependence on the FPU's rounding mode or flush-to-zero). The bit layouts are those of CUDA's
// __nv_bfloat16 and __half, and of PyTorch's torch.bfloat16 and torch.float16.
#pragma once
#include <cstdint>
#include <cstring>

#include "tensor/host_device.h"

namespace dsvd {

namespace reduced_float_bits {

DSVD_HOST_DEVICE uint32_t float_bits(float f) {
  uint32_t u;
  memcpy(&u, &f, sizeof u);
  return u;
}

DSVD_HOST_DEVICE float bits_float(uint32_t u) {
  float f;
  memcpy(&f, &u, sizeof f);
  return f;
}

// float32 -> bfloat16: keep the top 16 bits, rounding the dropped 16 to nearest, ties to even;
// a NaN stays a (quiet) NaN of the same sign.
DSVD_HOST_DEVICE uint16_t bfloat16_from_float(float f) {
  uint32_t u = float_bits(f);
  if ((u & 0x7FFFFFFFu) > 0x7F800000u) return uint16_t((u >> 16) | 0x0040u);
  u += 0x7FFFu + ((u >> 16) & 1u);
  return uint16_t(u >> 16);
}

DSVD_HOST_DEVICE float float_from_bfloat16(uint16_t h) { return bits_float(uint32_t(h) << 16); }

// float32 -> binary16 with round-to-nearest-even: overflow to ±inf (from 65520 up, the tie above
// 65504), gradual underflow to subnormals (unit 2^-24), NaN stays a quiet NaN.
DSVD_HOST_DEVICE uint16_t float16_from_float(float f) {
  const uint32_t u = float_bits(f);
  const uint16_t sign = uint16_t((u >> 16) & 0x8000u);
  const uint32_t a = u & 0x7FFFFFFFu;
  if (a > 0x7F800000u) return uint16_t(sign | 0x7E00u);
  if (a >= 0x477FF000u) return uint16_t(sign | 0x7C00u);  // >= 65520 (or inf)
  if (a >= 0x38800000u) {                                  // >= 2^-14: a normal half
    uint32_t h = (a - 0x38000000u) >> 13;                  // rebias the exponent 127 -> 15
    const uint32_t rest = a & 0x1FFFu;
    if (rest > 0x1000u || (rest == 0x1000u && (h & 1u))) ++h;  // a carry moves into the exponent
    return uint16_t(sign | h);
  }
  if (a < 0x33000000u) return sign;  // below 2^-25 (the tie at 2^-25 rounds to the even zero)
  // Subnormal: the value is m·2^(e-150); counted in units of 2^-24 that is m >> (126 - e).
  const uint32_t e = a >> 23;
  const uint32_t m = (a & 0x7FFFFFu) | 0x800000u;
  const uint32_t shift = 126u - e;  // 14..24
  uint32_t q = m >> shift;
  const uint32_t rest = m & ((1u << shift) - 1u), half = 1u << (shift - 1u);
  if (rest > half || (rest == half && (q & 1u))) ++q;
  return uint16_t(sign | q);
}

DSVD_HOST_DEVICE float float_from_float16(uint16_t h) {
  const uint32_t sign = uint32_t(h & 0x8000u) << 16;
  const uint32_t e = (h >> 10) & 0x1Fu;
  uint32_t m = h & 0x3FFu;
  if (e == 0x1Fu) return bits_float(sign | 0x7F800000u | (m << 13));
  if (e != 0) return bits_float(sign | ((e + 112u) << 23) | (m << 13));
  if (m == 0) return bits_float(sign);
  uint32_t shift = 0;  // a subnormal: normalise m·2^-24
  while (!(m & 0x400u)) {
    m <<= 1;
    ++shift;
  }
  return bits_float(sign | ((113u - shift) << 23) | ((m & 0x3FFu) << 13));
}

}  // namespace reduced_float_bits

// A 16-bit float value, kept as its bits; conversions are explicit, as every arithmetic happens
// in float32. No member initialiser: the type stays trivial, so that CUDA shared memory can hold
// it. The two formats differ only in their conversions.
template <uint16_t (*FromFloat)(float), float (*ToFloat)(uint16_t)>
struct ReducedFloat {
  uint16_t bits;
  ReducedFloat() = default;
  DSVD_HOST_DEVICE explicit ReducedFloat(float f) : bits(FromFloat(f)) {}
  DSVD_HOST_DEVICE explicit operator float() const { return ToFloat(bits); }
  DSVD_HOST_DEVICE static ReducedFloat from_bits(uint16_t b) {
    ReducedFloat v;
    v.bits = b;
    return v;
  }
};

using bfloat16 = ReducedFloat<reduced_float_bits::bfloat16_from_float, reduced_float_bits::float_from_bfloat16>;
using float16 = ReducedFloat<reduced_float_bits::float16_from_float, reduced_float_bits::float_from_float16>;

static_assert(sizeof(bfloat16) == 2 && sizeof(float16) == 2, "16-bit storage types");

// value_cast<To>(from): the conversion the copy kernels use between any two storage types. A
// 16-bit float goes through float32 (exact), a double to a 16-bit float through float32 first
// (a double rounding that can differ from direct rounding only on ties at float32's precision,
// as PyTorch's conversions do).
template <typename T> struct is_reduced_float_type { static constexpr bool value = false; };
template <> struct is_reduced_float_type<bfloat16> { static constexpr bool value = true; };
template <> struct is_reduced_float_type<float16> { static constexpr bool value = true; };

// The type arithmetic on a T happens in: float for the 16-bit floats (each result then rounded
// once to T, the same bits as a kernel that widens its operands to float32), T itself otherwise.
template <typename T> struct compute_type { using type = T; };
template <> struct compute_type<bfloat16> { using type = float; };
template <> struct compute_type<float16> { using type = float; };
template <typename T> using compute_type_t = typename compute_type<T>::type;

template <typename To, typename From> DSVD_HOST_DEVICE To value_cast(From x) {
  if constexpr (is_reduced_float_type<From>::value) {
    if constexpr (is_reduced_float_type<To>::value) return To(static_cast<float>(x));
    else return static_cast<To>(static_cast<float>(x));
  } else if constexpr (is_reduced_float_type<To>::value) {
    return To(static_cast<float>(x));
  } else {
    return static_cast<To>(x);
  }
}

}  // namespace dsvd
