// Running the PyTorch peer (benchmarks/pytorch_reference.py) from a benchmark program and reading
// the figure it prints last ("<name> <value>").
#pragma once
#include <cstdio>
#include <optional>
#include <string>

namespace dsvd {

// The Python with Debian's torch (python3-torch): /usr/bin/python3 unless DSVD_PEER_PYTHON says.
inline std::string peer_python() {
  const char* env = std::getenv("DSVD_PEER_PYTHON");
  return env && *env ? env : "/usr/bin/python3";
}

// Runs `pytorch_reference.py ARGS` and returns the number after `key` on its output, or nullopt
// (with the output printed) when the peer could not run.
inline std::optional<double> run_peer(const std::string& script, const std::string& args, const std::string& key) {
  std::string command = peer_python() + " " + script + " " + args + " 2>&1";
  FILE* pipe = popen(command.c_str(), "r");
  if (!pipe) return std::nullopt;
  std::string output;
  char buffer[4096];
  while (size_t n = fread(buffer, 1, sizeof buffer, pipe)) output.append(buffer, n);
  int status = pclose(pipe);
  size_t at = output.rfind(key + " ");
  if (status != 0 || at == std::string::npos) {
    std::fprintf(stderr, "peer failed (%s):\n%s\n", command.c_str(), output.c_str());
    return std::nullopt;
  }
  return std::stod(output.substr(at + key.size() + 1));
}

}  // namespace dsvd
