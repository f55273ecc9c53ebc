#include "ops/cpu/copy_kernel.h"

#include <immintrin.h>

#include <cstring>
#include <type_traits>

#include "ops/cpu/loops.h"

namespace dsvd::cpu {

namespace {

// float32 <-> float16 over contiguous runs with the F16C instructions (on every x86-64 CPU since
// 2012): the same round-to-nearest-even as tensor/reduced_float.h's bit arithmetic, eight values
// an instruction instead of a branchy loop each. The build targets baseline x86-64, so these are
// compiled for F16C alone and chosen at run time.
__attribute__((target("avx,f16c"))) void floats_to_halves_f16c(const float* in, float16* out, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out + i),
                     _mm256_cvtps_ph(_mm256_loadu_ps(in + i), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
  for (; i < n; ++i) out[i] = float16(in[i]);
}

__attribute__((target("avx,f16c"))) void halves_to_floats_f16c(const float16* in, float* out, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm256_storeu_ps(out + i, _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(in + i))));
  for (; i < n; ++i) out[i] = float(in[i]);
}

bool has_f16c() {
  static const bool yes = __builtin_cpu_supports("avx") && __builtin_cpu_supports("f16c");
  return yes;
}

// A contiguous run converted between float32 and float16 by F16C; false for any other pair.
template <typename Out, typename In>
bool convert_run_f16c(Out* out, const In* in, int64_t n) {
  if constexpr (std::is_same_v<Out, float16> && std::is_same_v<In, float>) {
    if (!has_f16c()) return false;
    floats_to_halves_f16c(in, out, n);
    return true;
  } else if constexpr (std::is_same_v<Out, float> && std::is_same_v<In, float16>) {
    if (!has_f16c()) return false;
    halves_to_floats_f16c(in, out, n);
    return true;
  } else {
    return false;
  }
}

}  // namespace

void copy_into(const Tensor& dst, const Tensor& src) {
  DSVD_CHECK(dst.sizes() == src.sizes(), "copy: destination shape ", shape_str(dst.sizes()),
             " differs from source shape ", shape_str(src.sizes()));
  if (dst.dtype() == src.dtype() && dst.is_contiguous() && src.is_contiguous()) {
    std::memcpy(dst.data_ptr(), src.data_ptr(), size_t(src.numel()) * itemsize(src.dtype()));
    return;
  }
  DSVD_DISPATCH_STORAGE(dst.dtype(), "copy", [&] {
    using out_t = scalar_t;
    auto* out = static_cast<out_t*>(dst.data_ptr());
    DSVD_DISPATCH_STORAGE(src.dtype(), "copy", [&] {
      const auto* in = static_cast<const scalar_t*>(src.data_ptr());
      for_each_row<2>(dst.sizes(), {&dst.strides(), &src.strides()},
                      [&](const std::array<int64_t, 2>& off, const std::array<int64_t, 2>& st, int64_t n) {
                        out_t* o = out + off[0];
                        const scalar_t* x = in + off[1];
                        if (st[0] == 1 && st[1] == 1) {
                          if (convert_run_f16c(o, x, n)) return;
                          for (int64_t i = 0; i < n; ++i) o[i] = value_cast<out_t>(x[i]);
                        } else {
                          for (int64_t i = 0; i < n; ++i) o[i * st[0]] = value_cast<out_t>(x[i * st[1]]);
                        }
                      });
    });
  });
}

}  // namespace dsvd::cpu
