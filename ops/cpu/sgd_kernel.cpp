// The CPU kernels of the SGD update (ops/kernels/nn.h): math::SgdStep per element, split over the
// OpenMP threads; many parameters one after another.
#include "ops/kernel_table.h"
#include "ops/kernels/nn.h"
#include "ops/math/elementwise.h"
#include "tensor/parallel.h"

namespace dsvd::cpu {
namespace {

const double* value_of(const Tensor& t) { return t.defined() ? t.data<double>() : nullptr; }

void sgd_update(const Tensor& param, const Tensor& grad, const Tensor& buffer, const SgdDeviceScalars& scalars,
                double lr, double momentum, double dampening, double weight_decay, bool nesterov, bool first) {
  DSVD_DISPATCH_FLOATING(param.dtype(), "sgd", [&] {
    using T = scalar_t;
    auto step = math::make_sgd_step<T>(lr, momentum, dampening, weight_decay, nesterov, first, buffer.defined());
    if (!step.read_device_scalars(value_of(scalars.lr), lr, value_of(scalars.skip), value_of(scalars.started))) return;
    T* w = param.data<T>();
    const T* g = grad.data<T>();
    T* b = buffer.defined() ? buffer.data<T>() : nullptr;
    T unused = 0;
    const int64_t n = param.numel();
    parallel_for(0, n, n > kParallelGrain, [&](int64_t k) { step(w[k], g[k], b ? b[k] : unused); });
  });
}

// On the CPU one parameter after another: each update is already split over the threads.
void sgd_update_many(const std::vector<SgdParamUpdate>& updates, const SgdDeviceScalars& scalars, double momentum,
                     double dampening, bool nesterov) {
  for (const SgdParamUpdate& u : updates)
    sgd_update(u.param, u.grad, u.buffer, scalars, u.lr_factor, momentum, dampening, u.weight_decay, nesterov, u.first);
}

}  // namespace

DSVD_REGISTER_KERNEL(kernels::SgdUpdateKernel, CPU, sgd_update);
DSVD_REGISTER_KERNEL(kernels::SgdUpdateManyKernel, CPU, sgd_update_many);

}  // namespace dsvd::cpu
