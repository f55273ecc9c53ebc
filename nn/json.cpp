#include "nn/json.h"

#include <cmath>

#include "tensor/error.h"

namespace dsvd::json {
namespace {

constexpr int kMaxDepth = 64;

class Parser {
 public:
  Parser(const std::string& text, const std::string& what) : s_(text), what_(what) {}

  Value document() {
    Value v = value(0);
    space();
    if (pos_ != s_.size()) bad("unexpected data after the JSON value");
    return v;
  }

 private:
  [[noreturn]] void bad(const std::string& msg) const { fail(what_, ": invalid JSON at byte ", pos_, ": ", msg); }
  void space() {
    while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n' || s_[pos_] == '\r')) ++pos_;
  }
  char peek() {
    space();
    if (pos_ >= s_.size()) bad("unexpected end");
    return s_[pos_];
  }
  void expect(char c) {
    if (peek() != c) bad(std::string("expected '") + c + "'");
    ++pos_;
  }
  bool literal(const char* word) {
    size_t n = std::char_traits<char>::length(word);
    if (s_.compare(pos_, n, word) != 0) return false;
    pos_ += n;
    return true;
  }

  Value value(int depth) {
    if (depth > kMaxDepth) bad("nesting deeper than 64 levels");
    char c = peek();
    Value v;
    if (c == '{') {
      v.kind = Value::Kind::Object;
      ++pos_;
      if (peek() == '}') { ++pos_; return v; }
      for (;;) {
        if (peek() != '"') bad("expected a string key");
        std::string key = string();
        for (const auto& [k, unused] : v.object)
          if (k == key) bad("duplicate key \"" + key + "\"");
        expect(':');
        v.object.push_back(Member{std::move(key), value(depth + 1)});
        if (peek() == ',') { ++pos_; continue; }
        expect('}');
        return v;
      }
    }
    if (c == '[') {
      v.kind = Value::Kind::Array;
      ++pos_;
      if (peek() == ']') { ++pos_; return v; }
      for (;;) {
        v.array.push_back(value(depth + 1));
        if (peek() == ',') { ++pos_; continue; }
        expect(']');
        return v;
      }
    }
    if (c == '"') {
      v.kind = Value::Kind::String;
      v.string = string();
      return v;
    }
    if (literal("true")) { v.kind = Value::Kind::Bool; v.boolean = true; return v; }
    if (literal("false")) { v.kind = Value::Kind::Bool; return v; }
    if (literal("null")) return v;
    if (c == '-' || (c >= '0' && c <= '9')) return number();
    bad(std::string("unexpected character '") + c + "'");
  }

  std::string string() {
    ++pos_;  // opening quote
    std::string out;
    while (pos_ < s_.size()) {
      char c = s_[pos_++];
      if (c == '"') return out;
      if (static_cast<unsigned char>(c) < 0x20) bad("control character in a string");
      if (c != '\\') { out.push_back(c); continue; }
      if (pos_ >= s_.size()) break;
      char e = s_[pos_++];
      switch (e) {
        case '"': out.push_back('"'); break;
        case '\\': out.push_back('\\'); break;
        case '/': out.push_back('/'); break;
        case 'b': out.push_back('\b'); break;
        case 'f': out.push_back('\f'); break;
        case 'n': out.push_back('\n'); break;
        case 'r': out.push_back('\r'); break;
        case 't': out.push_back('\t'); break;
        case 'u': {
          if (pos_ + 4 > s_.size()) bad("truncated \\u escape");
          unsigned code = 0;
          for (int i = 0; i < 4; ++i) {
            char h = s_[pos_++];
            code <<= 4;
            if (h >= '0' && h <= '9') code |= unsigned(h - '0');
            else if (h >= 'a' && h <= 'f') code |= unsigned(h - 'a' + 10);
            else if (h >= 'A' && h <= 'F') code |= unsigned(h - 'A' + 10);
            else bad("bad \\u escape");
          }
          // Encode as UTF-8 (surrogate pairs are kept as separate code units).
          if (code < 0x80) out.push_back(char(code));
          else if (code < 0x800) { out.push_back(char(0xC0 | (code >> 6))); out.push_back(char(0x80 | (code & 0x3F))); }
          else { out.push_back(char(0xE0 | (code >> 12))); out.push_back(char(0x80 | ((code >> 6) & 0x3F))); out.push_back(char(0x80 | (code & 0x3F))); }
          break;
        }
        default: bad("bad escape");
      }
    }
    bad("unterminated string");
  }

  Value number() {
    size_t start = pos_;
    if (s_[pos_] == '-') ++pos_;
    bool integral = true;
    while (pos_ < s_.size() && (isdigit(static_cast<unsigned char>(s_[pos_])) || s_[pos_] == '.' || s_[pos_] == 'e' ||
                                s_[pos_] == 'E' || s_[pos_] == '+' || s_[pos_] == '-')) {
      if (s_[pos_] == '.' || s_[pos_] == 'e' || s_[pos_] == 'E') integral = false;
      ++pos_;
    }
    std::string text = s_.substr(start, pos_ - start);
    Value v;
    try {
      size_t used = 0;
      if (integral) {
        v.kind = Value::Kind::Integer;
        v.integer = std::stoll(text, &used);
        v.number = double(v.integer);
      } else {
        v.kind = Value::Kind::Number;
        v.number = std::stod(text, &used);
      }
      if (used != text.size()) bad("malformed number '" + text + "'");
    } catch (const std::out_of_range&) {
      bad("number out of range '" + text + "'");
    } catch (const std::invalid_argument&) {
      bad("malformed number '" + text + "'");
    }
    return v;
  }

  const std::string& s_;
  const std::string& what_;
  size_t pos_ = 0;
};

}  // namespace

const Value* Value::find(const std::string& key) const {
  for (const auto& [k, v] : object)
    if (k == key) return &v;
  return nullptr;
}

Value parse(const std::string& text, const std::string& what) { return Parser(text, what).document(); }

}  // namespace dsvd::json
