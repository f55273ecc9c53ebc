// A small strict JSON parser for the safetensors header: objects (keys kept in file order,
// duplicates reported), arrays, strings with escapes, integers (exact up to 2^63) and other
// numbers, true/false/null. Nesting is limited to keep hostile input from exhausting the stack.
// Errors throw dsvd::Error with the byte offset.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace dsvd::json {

struct Member;

struct Value {
  enum class Kind { Null, Bool, Integer, Number, String, Array, Object } kind = Kind::Null;
  bool boolean = false;
  int64_t integer = 0;  // for Kind::Integer
  double number = 0;    // for Kind::Number (and Integer, converted)
  std::string string;
  std::vector<Value> array;
  std::vector<Member> object;  // in file order; `first` the key, `second` the value

  const Value* find(const std::string& key) const;
};

// One key/value of an object (a struct rather than std::pair, which may not hold the incomplete
// Value inside Value's own definition).
struct Member {
  std::string first;
  Value second;
};

// `what` names the source in error messages (e.g. "model.safetensors: header").
Value parse(const std::string& text, const std::string& what);

}  // namespace dsvd::json
