// The kernel table (ops/kernel_table.h): every family has a CPU kernel, and a CUDA one in a CUDA
// build; a fused op's optional families have a CPU kernel (other devices compose the unfused ops);
// a missing entry is an error that names the device and the family.
#include "dsvd_config.h"
#include "ops/kernel_table.h"
#include "ops/kernels/elementwise.h"
#include "ops/kernels/linalg.h"
#include "ops/kernels/nn.h"
#include "ops/kernels/reduce.h"
#include "tests/test_util.h"

using namespace dsvd;

namespace {

template <typename... Families>
std::vector<std::string> missing(Device::Kind kind) {
  std::vector<std::string> out;
  ((kernels::has_kernel<Families>(kind) ? void() : out.push_back(Families::name)), ...);
  return out;
}

std::vector<std::string> missing_kernels(Device::Kind kind) {
  using namespace kernels;
  return missing<CopyKernel, UnaryKernel, BinaryKernel, BinaryScalarKernel, ReluBackwardKernel, WhereKernel,
                 PolynomialKernel, GatherColumnsKernel, ScatterColumnsKernel, SumRowsKernel, VarRowsKernel,
                 MaxRowsKernel, ScatterRowsKernel, LogSoftmaxRowsKernel, CrossEntropyForwardKernel,
                 CrossEntropyBackwardKernel, BatchedGemmKernel, BatchedSolveKernel, SymeigDescendingKernel,
                 ReplaceInfinityKernel, ReplaceNanWithZeroKernel, Conv2dForwardKernel, Conv2dBackwardKernel,
                 BatchNormTrainingKernel, BatchNormBackwardKernel, BatchNormInferenceKernel,
                 BatchNormInferenceBackwardKernel, MaxPool2dForwardKernel, MaxPool2dBackwardKernel,
                 AvgPool2dForwardKernel, AvgPool2dBackwardKernel, AdaptiveAvgPool2dForwardKernel,
                 AdaptiveAvgPool2dBackwardKernel, DropoutKernel, SgdUpdateKernel>(kind);
}

// The families of fused ops, which an op uses only where the device has them (has_kernel) and
// otherwise composes from the unfused ops (docs/architecture.md "Fused ops").
std::vector<std::string> missing_fused_kernels(Device::Kind kind) {
  using namespace kernels;
  return missing<BatchNormReluTrainingKernel, BatchNormReluBackwardKernel, Conv2dReluForwardKernel, MtpForwardKernel,
                 MpaForwardKernel, LyapunovSignKernel>(kind);
}

struct UnregisteredFamily {
  static constexpr const char* name = "an unregistered family";
  using Fn = void();
};

}  // namespace

TEST_CASE("kernel table: every family has a CPU kernel, and a CUDA one where CUDA is built") {
  for (const auto& name : missing_kernels(Device::Kind::CPU)) MESSAGE("no CPU kernel for " << name);
  CHECK(missing_kernels(Device::Kind::CPU).empty());
#if DSVD_HAVE_CUDA
  for (const auto& name : missing_kernels(Device::Kind::CUDA)) MESSAGE("no CUDA kernel for " << name);
  CHECK(missing_kernels(Device::Kind::CUDA).empty());
#endif
}

TEST_CASE("kernel table: every fused op's families have a CPU kernel (the reference the fallbacks equal)") {
  for (const auto& name : missing_fused_kernels(Device::Kind::CPU)) MESSAGE("no CPU kernel for " << name);
  CHECK(missing_fused_kernels(Device::Kind::CPU).empty());
#if DSVD_HAVE_CUDA
  for (const auto& name : missing_fused_kernels(Device::Kind::CUDA))
    MESSAGE("CUDA composes the unfused ops for " << name);
#endif
}

TEST_CASE("kernel table: a missing kernel is an error naming the device and the family") {
  CHECK_THROWS_WITH_AS(kernels::dispatch<UnregisteredFamily>(Device::cpu()),
                       "no cpu kernel for an unregistered family", Error);
  CHECK_THROWS_WITH_AS(kernels::dispatch<UnregisteredFamily>(Device::cuda(0)),
                       "no cuda kernel for an unregistered family", Error);
}
