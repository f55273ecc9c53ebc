// The SGD update on the GPU (ops/kernels/nn.h): math::SgdStep per element, with the scalars read
// from device memory (SgdDeviceScalars). Many parameters per launch (tensor_table.cuh): the ~160
// launches of a ResNet-50 step become five.
#include <algorithm>
#include <cstdint>

#include "cuda/context.h"
#include "cuda/internal.h"
#include "cuda/kernels/tensor_table.cuh"
#include "ops/kernel_table.h"
#include "ops/kernels/nn.h"
#include "ops/math/elementwise.h"
#include "tensor/dtype.h"

namespace dsvd::cuda {
namespace {

// SgdDeviceScalars as the kernels read them: device pointers, null when not given.
struct DeviceScalars {
  const double *lr, *skip, *started;
};

DeviceScalars pointers_of(const SgdDeviceScalars& s) {
  auto pointer = [](const Tensor& t) { return t.defined() ? static_cast<const double*>(t.data_ptr()) : nullptr; };
  return {pointer(s.lr), pointer(s.skip), pointer(s.started)};
}

// Many parameters of one dtype in one launch (tensor_table.cuh): 36 entries with float64's steps
// fill the 4 KB of a kernel's arguments.
constexpr int kTensorsPerLaunch = 36;

template <typename T>
struct SgdTable {
  T* w[kTensorsPerLaunch];
  const T* g[kTensorsPerLaunch];
  T* b[kTensorsPerLaunch];  // null without momentum
  int64_t n[kTensorsPerLaunch];
  double lr_factor[kTensorsPerLaunch];
  math::SgdStep<T> step[kTensorsPerLaunch];
};

template <typename T>
__global__ void sgd_many_kernel(SgdTable<T> table, DeviceScalars s) {
  const int i = int(blockIdx.y);
  math::SgdStep<T> step = table.step[i];
  if (!step.read_device_scalars(s.lr, table.lr_factor[i], s.skip, s.started)) return;
  T* w = table.w[i];
  const T* g = table.g[i];
  T* b = table.b[i];
  const int64_t n = table.n[i];
  for (int64_t k = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; k < n; k += int64_t(gridDim.x) * blockDim.x) {
    T unused = 0;
    step(w[k], g[k], b ? b[k] : unused);
  }
}

void check_contiguous_on(Device device, const Tensor& param, const Tensor& grad, const Tensor& buffer) {
  DSVD_CHECK(param.device() == device && grad.device() == device && (!buffer.defined() || buffer.device() == device),
             "sgd (CUDA): parameter, gradient and momentum buffer must be on ", device.str());
  DSVD_CHECK(param.is_contiguous() && grad.is_contiguous() && (!buffer.defined() || buffer.is_contiguous()),
             "sgd (CUDA): parameter, gradient and momentum buffer must be contiguous");
}

}  // namespace

void sgd_update(const std::vector<SgdParamUpdate>& updates, const SgdDeviceScalars& scalars, double momentum,
                     double dampening, bool nesterov) {
  if (updates.empty()) return;
  const Device device = updates.front().param.device();
  DSVD_CHECK(device.is_cuda(), "sgd (CUDA): the parameters are on ", device.str());
  const DeviceScalars device_scalars = pointers_of(scalars);
  for (DType dtype : {DType::Float32, DType::Float64}) {
    DSVD_DISPATCH_FLOATING(dtype, "sgd", [&] {
      using T = scalar_t;
      SgdTable<T> table;
      in_tables<kTensorsPerLaunch>(
          updates,
          [&](int i, const SgdParamUpdate& u) -> int64_t {
            if (u.param.dtype() != dtype || u.param.numel() == 0) return -1;
            check_contiguous_on(device, u.param, u.grad, u.buffer);
            table.w[i] = static_cast<T*>(u.param.data_ptr());
            table.g[i] = static_cast<const T*>(u.grad.data_ptr());
            table.b[i] = u.buffer.defined() ? static_cast<T*>(u.buffer.data_ptr()) : nullptr;
            table.n[i] = u.param.numel();
            table.lr_factor[i] = u.lr_factor;
            table.step[i] = math::make_sgd_step<T>(u.lr_factor, momentum, dampening, u.weight_decay, nesterov,
                                                   u.first, u.buffer.defined());
            return table.n[i];
          },
          [&](int count, int64_t longest) {
            const dim3 grid(std::max(1u, blocks_for(longest)), unsigned(count));
            sgd_many_kernel<T><<<grid, kThreads, 0, context(device.index).stream>>>(table, device_scalars);
            DSVD_CUDA_CHECK("sgd", cudaGetLastError());
          });
    });
  }
}

DSVD_REGISTER_KERNEL(kernels::SgdUpdateKernel, CUDA, sgd_update);

}  // namespace dsvd::cuda
