// A minimal JSON writer for svd_lab's report.json: objects, arrays, numbers (non-finite values
// written as strings "nan", "inf", "-inf", which JSON has no literal for), strings.
#pragma once
#include <cmath>
#include <cstdio>
#include <sstream>
#include <string>
#include <vector>

namespace dsvd {

class JsonWriter {
 public:
  JsonWriter& begin_object() { separator(); out_ << '{'; first_.push_back(true); return *this; }
  JsonWriter& end_object() { out_ << '}'; first_.pop_back(); return *this; }
  JsonWriter& begin_array() { separator(); out_ << '['; first_.push_back(true); return *this; }
  JsonWriter& end_array() { out_ << ']'; first_.pop_back(); return *this; }
  JsonWriter& key(const std::string& k) {
    separator();
    string_literal(k);
    out_ << ':';
    after_key_ = true;
    return *this;
  }
  JsonWriter& value(double v) {
    separator();
    if (std::isnan(v)) out_ << "\"nan\"";
    else if (std::isinf(v)) out_ << (v > 0 ? "\"inf\"" : "\"-inf\"");
    else {
      char buf[32];
      std::snprintf(buf, sizeof buf, "%.17g", v);
      out_ << buf;
    }
    return *this;
  }
  JsonWriter& value(int64_t v) { separator(); out_ << v; return *this; }
  JsonWriter& value(const std::string& s) { separator(); string_literal(s); return *this; }
  JsonWriter& value(const char* s) { return value(std::string(s)); }
  JsonWriter& values(const std::vector<double>& v) {
    begin_array();
    for (double x : v) value(x);
    return end_array();
  }
  std::string str() const { return out_.str(); }

 private:
  void separator() {
    if (after_key_) { after_key_ = false; return; }
    if (!first_.empty()) {
      if (!first_.back()) out_ << ',';
      first_.back() = false;
    }
  }
  void string_literal(const std::string& s) {
    out_ << '"';
    for (char c : s) {
      if (c == '"' || c == '\\') out_ << '\\' << c;
      else if (c == '\n') out_ << "\\n";
      else out_ << c;
    }
    out_ << '"';
  }
  std::ostringstream out_;
  std::vector<bool> first_;
  bool after_key_ = false;
};

}  // namespace dsvd
