#include "autograd/autocast_mode.h"

namespace dsvd {

namespace {
thread_local std::optional<DType> autocast_low_dtype;
}

std::optional<DType> autocast_dtype() { return autocast_low_dtype; }

void set_autocast_dtype(std::optional<DType> dtype) {
  DSVD_CHECK(!dtype || is_reduced_float(*dtype), "autocast: the low-precision dtype must be bfloat16 or float16, got ",
             dtype_name(*dtype));
  autocast_low_dtype = dtype;
}

AutocastScope::AutocastScope(std::optional<DType> dtype) : previous_(autocast_dtype()) { set_autocast_dtype(dtype); }

}  // namespace dsvd
