// Helpers for the svd_lab tests: a temporary folder for input and output files, and running the
// `svd_lab matrix` command in-process with given arguments.
#pragma once
#include <unistd.h>

#include <filesystem>
#include <string>
#include <vector>

#include "apps/svd_lab/lab.h"

namespace dsvd::test {

struct LabDir {
  std::filesystem::path dir;
  explicit LabDir(const std::string& name)
      : dir(std::filesystem::temp_directory_path() / ("dsvd_" + name + "_" + std::to_string(::getpid()))) {
    std::filesystem::create_directories(dir);
  }
  ~LabDir() { std::filesystem::remove_all(dir); }
  std::string operator/(const std::string& name) const { return (dir / name).string(); }
};

// Runs `svd_lab matrix ARGS...` (--strict is a switch, as in the app).
inline int run_svd_lab_matrix(std::vector<std::string> args) {
  args.insert(args.begin(), {"svd_lab", "matrix"});
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  CommandLine cli(int(argv.size()), argv.data(), {"strict"});
  return lab::command_matrix(cli);
}

}  // namespace dsvd::test
