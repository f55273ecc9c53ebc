// The CPU kernel of the SGD update (ops/kernels/nn.h): math::SgdStep per element, split over the
// OpenMP threads, one parameter after another.
#include "ops/kernel_table.h"
#include "ops/kernels/nn.h"
#include "ops/math/elementwise.h"
#include "tensor/parallel.h"

namespace dsvd::cpu {
namespace {

const double* value_of(const Tensor& t) { return t.defined() ? t.data<double>() : nullptr; }

// One parameter after another: each update is split over the threads.
void sgd_update(const std::vector<SgdParamUpdate>& updates, const SgdDeviceScalars& scalars, double momentum,
                double dampening, bool nesterov) {
  for (const SgdParamUpdate& u : updates) {
    DSVD_DISPATCH_FLOATING(u.param.dtype(), "sgd", [&] {
      using T = scalar_t;
      auto step = math::make_sgd_step<T>(u.lr_factor, momentum, dampening, u.weight_decay, nesterov, u.first,
                                         u.buffer.defined());
      if (!step.read_device_scalars(value_of(scalars.lr), u.lr_factor, value_of(scalars.skip),
                                    value_of(scalars.started)))
        return;
      T* w = u.param.data<T>();
      const T* g = u.grad.data<T>();
      T* b = u.buffer.defined() ? u.buffer.data<T>() : nullptr;
      T unused = 0;
      const int64_t n = u.param.numel();
      parallel_for(0, n, n > kParallelGrain, [&](int64_t k) { step(w[k], g[k], b ? b[k] : unused); });
    });
  }
}

}  // namespace

DSVD_REGISTER_KERNEL(kernels::SgdUpdateKernel, CPU, sgd_update);

}  // namespace dsvd::cpu
