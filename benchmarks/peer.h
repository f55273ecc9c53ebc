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

// Runs `command` (stderr joined to stdout); returns its output, or nullopt (with the output
// printed) when it failed.
inline std::optional<std::string> command_output(const std::string& command) {
  FILE* pipe = popen((command + " 2>&1").c_str(), "r");
  if (!pipe) return std::nullopt;
  std::string output;
  char buffer[4096];
  while (size_t n = fread(buffer, 1, sizeof buffer, pipe)) output.append(buffer, n);
  if (pclose(pipe) != 0) {
    std::fprintf(stderr, "failed: %s\n%s\n", command.c_str(), output.c_str());
    return std::nullopt;
  }
  return output;
}

// The number after the last "key " in `output`, or nullopt.
inline std::optional<double> output_field(const std::string& output, const std::string& key) {
  size_t at = output.rfind(key + " ");
  if (at == std::string::npos) return std::nullopt;
  return std::stod(output.substr(at + key.size() + 1));
}

// Runs `pytorch_reference.py ARGS` and returns the number after `key` on its output, or nullopt
// when the peer could not run or did not print it.
inline std::optional<double> run_peer(const std::string& script, const std::string& args, const std::string& key) {
  auto output = command_output(peer_python() + " " + script + " " + args);
  if (!output) return std::nullopt;
  auto value = output_field(*output, key);
  if (!value) std::fprintf(stderr, "peer printed no '%s':\n%s\n", key.c_str(), output->c_str());
  return value;
}

}  // namespace dsvd
