// A build without MPI: a multi-process launch is refused with what to do.
#include "distributed/communicator.h"

namespace dsvd::distributed {

std::shared_ptr<Communicator> make_mpi_communicator(double) {
  fail("this process was started by an MPI launcher with several ranks, but dsvd was built without MPI "
       "(install libopenmpi-dev, e.g. through tools/bootstrap, and rebuild)");
}

}  // namespace dsvd::distributed
