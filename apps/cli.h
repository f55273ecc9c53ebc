// A small command-line parser shared by the apps: a command word, then --name value options
// (and --flag switches). Unknown options and missing values are errors that name the option.
#pragma once
#include <map>
#include <set>
#include <string>
#include <vector>

#include "tensor/error.h"

namespace dsvd {

class CommandLine {
 public:
  // `flags` are the options that take no value.
  CommandLine(int argc, char** argv, const std::set<std::string>& flags = {}) {
    for (int i = 1; i < argc; ++i) {
      std::string a = argv[i];
      if (a.rfind("--", 0) == 0) {
        std::string name = a.substr(2), value;
        size_t eq = name.find('=');
        if (eq != std::string::npos) {
          value = name.substr(eq + 1);
          name = name.substr(0, eq);
        } else if (flags.count(name)) {
          value = "1";
        } else if (i + 1 < argc) {
          value = argv[++i];
        } else {
          // Reported when asked for (a known option) or by reject_unused (an unknown one), so that
          // a misspelt last option says "unknown", not "needs a value".
          missing_value_.insert(name);
        }
        options_[name].push_back(value);
      } else {
        positional_.push_back(a);
      }
    }
  }

  const std::vector<std::string>& positional() const { return positional_; }
  bool has(const std::string& name) const {
    used_.insert(name);
    return options_.count(name) > 0;
  }
  std::string get(const std::string& name, const std::string& fallback = "") const {
    used_.insert(name);
    DSVD_CHECK(!missing_value_.count(name), "option --", name, " needs a value");
    auto it = options_.find(name);
    return it == options_.end() ? fallback : it->second.back();
  }
  std::string require(const std::string& name) const {
    DSVD_CHECK(has(name), "missing required option --", name);
    return get(name);
  }
  int get_int(const std::string& name, int fallback) const {
    return parsed(name, fallback, "an integer", [](const std::string& v, size_t* used) { return std::stoi(v, used); });
  }
  double get_double(const std::string& name, double fallback) const {
    return parsed(name, fallback, "a number", [](const std::string& v, size_t* used) { return std::stod(v, used); });
  }
  // Throws for any option that no get()/require() asked about (call after reading them all).
  void reject_unused() const {
    for (const auto& [name, values] : options_)
      DSVD_CHECK(used_.count(name), "unknown option --", name, " (see --help)");
  }

 private:
  // The option's value converted by `convert`, which must consume all of it.
  template <typename T, typename Convert>
  T parsed(const std::string& name, T fallback, const char* what, Convert convert) const {
    std::string v = get(name);
    if (v.empty()) return fallback;
    try {
      size_t used = 0;
      T x = convert(v, &used);
      if (used == v.size()) return x;
    } catch (...) {
    }
    fail("option --", name, " expects ", what, ", got '", v, "'");
  }

  std::vector<std::string> positional_;
  std::map<std::string, std::vector<std::string>> options_;
  std::set<std::string> missing_value_;  // given last, without a value
  mutable std::set<std::string> used_;
};

}  // namespace dsvd
