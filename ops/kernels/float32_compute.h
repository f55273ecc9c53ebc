// How kernels take bfloat16 and float16 tensors: kernels::call widens them to float32 and rounds
// the results once.
//
// Device kernels compute in float32 or float64. A family that declares `float32_outputs` (a bit
// mask of the positions, among its arguments, of the tensors it writes) also accepts the 16-bit
// floats through kernels::call: each 16-bit input is widened to a float32 copy (exact), each
// 16-bit output gets a float32 stand-in, the family's float32 kernel runs, and the stand-ins are
// rounded into the outputs (round-to-nearest-even, tensor/reduced_float.h). This is what a
// tensor-core kernel does with float32 accumulation, on every device at once. A device kernel
// registered with DSVD_REGISTER_KERNEL_NATIVE_REDUCED_FLOAT gets the 16-bit tensors as they are
// (cuDNN's convolutions and cuBLAS's products, on tensor cores). Arguments
// the kernel allocates (`Tensor&`) and tensors of other dtypes pass through untouched. A family
// whose kernel adds into an output the op has filled declares `float32_outputs_accumulate`: its
// stand-ins start as the outputs' widened contents.
#pragma once
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "ops/internal.h"
#include "ops/kernel_table.h"

namespace dsvd::kernels {

namespace widening {

template <typename Fn> struct Parameters;
template <typename R, typename... Ps> struct Parameters<R(Ps...)> { using type = std::tuple<Ps...>; };

template <typename A> bool is_reduced(const A& a) {
  if constexpr (std::is_same_v<std::decay_t<A>, Tensor>) return a.defined() && is_reduced_float(a.dtype());
  else return false;
}

// The 16-bit outputs and their float32 stand-ins, rounded into place once the kernel has run.
class Rounding {
 public:
  Tensor stand_in_for(const Tensor& output, bool keep_contents) {
    // The stand-in keeps the output's memory format (a channels-last kernel gets channels-last).
    const MemoryFormat format = memory_format_of(output);
    Tensor s = keep_contents ? detail::convert_raw(detail::contiguous_raw(output, format), DType::Float32)
                             : empty(output.sizes(), DType::Float32, output.device(), format);
    pending_.emplace_back(output, s);
    return s;
  }
  void round_into_outputs() const {
    for (const auto& [output, stand_in] : pending_) detail::copy_raw(output, stand_in);
  }

 private:
  std::vector<std::pair<Tensor, Tensor>> pending_;
};

// The argument the float32 kernel receives for parameter type P.
template <typename P, typename A>
decltype(auto) adapt(A&& a, bool is_output, bool accumulates, Rounding& rounding) {
  if constexpr (std::is_same_v<P, const Tensor&>) {
    if (!is_reduced(a)) return Tensor(a);
    return is_output ? rounding.stand_in_for(a, accumulates) : detail::convert_raw(a, DType::Float32);
  } else {
    return std::forward<A>(a);
  }
}

}  // namespace widening

// Calls the device's kernel of `Family`; 16-bit float tensors through float32 when the family
// declares its outputs (above), else they reach the kernel as they are.
template <typename Family, typename... Args>
void call(Device device, Args&&... args) {
  typename Family::Fn& fn = dispatch<Family>(device);
  if constexpr (requires { Family::float32_outputs; }) {
    if (!has_native_reduced_float<Family>(device.kind) && (widening::is_reduced(args) || ...)) {
      using Params = typename widening::Parameters<typename Family::Fn>::type;
      static_assert(std::tuple_size_v<Params> == sizeof...(Args), "kernels::call: wrong number of arguments");
      widening::Rounding rounding;
      constexpr bool accumulates = requires { Family::float32_outputs_accumulate; };
      [&]<size_t... I>(std::index_sequence<I...>) {
        fn(widening::adapt<std::tuple_element_t<I, Params>>(std::forward<Args>(args),
                                                          ((Family::float32_outputs >> I) & 1u) != 0, accumulates,
                                                          rounding)...);
      }(std::index_sequence_for<Args...>{});
      rounding.round_into_outputs();
      return;
    }
  }
  fn(std::forward<Args>(args)...);
}

}  // namespace dsvd::kernels
