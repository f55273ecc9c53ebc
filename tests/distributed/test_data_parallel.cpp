// Data parallelism across processes: tests/distributed/ddp_check.cpp under `mpirun -np 2
// --oversubscribe` (one thread per rank). Skipped, visibly, where mpirun is not installed.
#include <sys/wait.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "tests/test_util.h"

namespace {

// mpirun, and the check program of this build (a build carried to the GPU machine has none).
bool have_mpirun() {
  return std::system("command -v mpirun > /dev/null 2>&1") == 0 &&
         std::filesystem::exists(dsvd::test::program_path("DSVD_DDP_CHECK", DSVD_DDP_CHECK));
}

// Runs the check under mpirun with 2 ranks; returns the exit status and the seconds it took.
std::pair<int, double> mpirun_check(const std::string& mode) {
  const std::string command = dsvd::test::kMpiEnvironment + ""
                              "timeout 120 mpirun --oversubscribe -np 2 " +
                              dsvd::test::program_path("DSVD_DDP_CHECK", DSVD_DDP_CHECK) + " " + mode +
                              " > /tmp/dsvd_ddp_check_" + mode + ".log 2>&1";
  const auto start = std::chrono::steady_clock::now();
  const int status = std::system(command.c_str());
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return {WIFEXITED(status) ? WEXITSTATUS(status) : 128, seconds};
}

}  // namespace

TEST_CASE("data parallel: 2 MPI ranks average their gradients as one process would, weights from rank 0") {
  if (!have_mpirun()) {
    MESSAGE("mpirun (openmpi-bin) or this build's ddp_check not here: skipped");
    return;
  }
  auto [status, seconds] = mpirun_check("check");
  INFO("log: /tmp/dsvd_ddp_check_check.log");
  CHECK(status == 0);
}

TEST_CASE("data parallel: a rank killed mid-run ends the job with a non-zero exit, not a hang") {
  if (!have_mpirun()) {
    MESSAGE("mpirun (openmpi-bin) or this build's ddp_check not here: skipped");
    return;
  }
  auto [status, seconds] = mpirun_check("dead-peer");
  CHECK(status != 0);
  CHECK(status != 124);  // not the timeout of 120 s
  CHECK(seconds < 60);
}

TEST_CASE("data parallel: a rank that stops answering ends the job after the timeout, saying so") {
  if (!have_mpirun()) {
    MESSAGE("mpirun (openmpi-bin) or this build's ddp_check not here: skipped");
    return;
  }
  auto [status, seconds] = mpirun_check("hung-peer");  // a timeout of 2 s; rank 1 sleeps 60 s
  CHECK(status != 0);
  CHECK(seconds < 30);
  std::ifstream log("/tmp/dsvd_ddp_check_hung-peer.log");
  std::string text((std::istreambuf_iterator<char>(log)), std::istreambuf_iterator<char>());
  INFO(text);
  CHECK(text.find("MPI_Barrier: rank 0 of 2 waited") != std::string::npos);
  CHECK(text.find("the timeout") != std::string::npos);
}
