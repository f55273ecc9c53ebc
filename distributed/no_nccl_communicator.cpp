// A build without CUDA: no NCCL (and no CUDA device to give it).
#include "distributed/communicator.h"

namespace dsvd::distributed {

std::shared_ptr<Communicator> make_nccl_communicator(std::shared_ptr<Communicator>, Device device, double) {
  DSVD_CHECK(device.is_cuda(), "make_nccl_communicator: NCCL serves CUDA devices, got ", device.str());
  fail("NCCL for ", device.str(), ": dsvd was built without CUDA (meson configure BUILD -Dcuda=enabled)");
}

int nccl_version() { fail("NCCL: dsvd was built without CUDA"); }

}  // namespace dsvd::distributed
