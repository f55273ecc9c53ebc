// .npy reader and writer. The format (numpy's NEP 1): the magic "\x93NUMPY", a major and minor
// version byte, a little-endian header length (2 bytes in 1.0, 4 bytes in 2.0/3.0), an ASCII
// (3.0: UTF-8) Python dict literal with 'descr', 'fortran_order' and 'shape', padded with spaces
// and a newline so the data starts at a multiple of 64 bytes, then the raw array bytes.
#include "tensor/npy.h"

#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

namespace dsvd {
namespace {

constexpr char kMagic[] = "\x93NUMPY";
constexpr size_t kMagicLen = 6;

const char* descr_of(DType dtype) {
  switch (dtype) {
    case DType::Float32: return "<f4";
    case DType::Float64: return "<f8";
    case DType::Int64: return "<i8";
    case DType::UInt8: return "|u1";
  }
  return "?";
}

// A cursor over the header dict with small, strict parsing helpers.
struct HeaderParser {
  const std::string& text;
  const std::string& name;
  size_t pos = 0;

  [[noreturn]] void bad(const std::string& what) const {
    fail(name, ": malformed .npy header (", what, ") in: ", text);
  }
  void skip_space() {
    while (pos < text.size() && (text[pos] == ' ' || text[pos] == '\t' || text[pos] == '\n')) ++pos;
  }
  bool consume(char c) {
    skip_space();
    if (pos < text.size() && text[pos] == c) { ++pos; return true; }
    return false;
  }
  void expect(char c) {
    if (!consume(c)) bad(std::string("expected '") + c + "' at offset " + std::to_string(pos));
  }
  std::string string_literal() {
    skip_space();
    if (pos >= text.size() || (text[pos] != '\'' && text[pos] != '"')) bad("expected a quoted string");
    char quote = text[pos++];
    size_t end = text.find(quote, pos);
    if (end == std::string::npos) bad("unterminated string");
    std::string s = text.substr(pos, end - pos);
    pos = end + 1;
    return s;
  }
  bool boolean() {
    skip_space();
    if (text.compare(pos, 4, "True") == 0) { pos += 4; return true; }
    if (text.compare(pos, 5, "False") == 0) { pos += 5; return false; }
    bad("expected True or False for 'fortran_order'");
  }
  Shape shape_tuple() {
    expect('(');
    Shape shape;
    while (!consume(')')) {
      skip_space();
      size_t start = pos;
      while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') ++pos;
      if (start == pos) bad("expected a non-negative integer in 'shape'");
      if (pos - start > 18) bad("dimension too large in 'shape'");
      shape.push_back(std::stoll(text.substr(start, pos - start)));
      if (!consume(',')) {
        expect(')');
        break;
      }
    }
    return shape;
  }
};

DType dtype_from_descr(const std::string& descr, const std::string& name) {
  if (descr == "<f4") return DType::Float32;
  if (descr == "<f8") return DType::Float64;
  if (descr == "<i8") return DType::Int64;
  if (descr == "|u1" || descr == "<u1" || descr == ">u1") return DType::UInt8;
  std::string hint = !descr.empty() && descr[0] == '>' ? " (big-endian data is not supported; "
                     "convert with arr.astype(arr.dtype.newbyteorder('<')))" : "";
  fail(name, ": unsupported dtype '", descr, "' in .npy header; dsvd reads '<f4' (float32), '<f8' "
       "(float64), '<i8' (int64) and '|u1' (uint8)", hint);
}

uint32_t read_le(const unsigned char* p, int bytes) {
  uint32_t v = 0;
  for (int i = bytes - 1; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

}  // namespace

Tensor parse_npy(const std::string& bytes, const std::string& name) {
  DSVD_CHECK(bytes.size() >= kMagicLen + 2 && std::memcmp(bytes.data(), kMagic, kMagicLen) == 0, name,
             ": not a .npy file (bad magic: the file must start with \\x93NUMPY)");
  auto* u = reinterpret_cast<const unsigned char*>(bytes.data());
  int major = u[6], minor = u[7];
  DSVD_CHECK(major >= 1 && major <= 3, name, ": unsupported .npy version ", major, ".", minor,
             " (dsvd reads 1.0, 2.0 and 3.0)");
  size_t len_bytes = major == 1 ? 2 : 4;
  DSVD_CHECK(bytes.size() >= 8 + len_bytes, name, ": truncated .npy header (file is ", bytes.size(), " bytes)");
  size_t header_len = read_le(u + 8, int(len_bytes));
  size_t data_start = 8 + len_bytes + header_len;
  DSVD_CHECK(data_start <= bytes.size(), name, ": truncated .npy header (header says ", header_len,
             " bytes, file has ", bytes.size() - 8 - len_bytes, " after the length field)");
  std::string header = bytes.substr(8 + len_bytes, header_len);

  HeaderParser p{header, name};
  std::string descr;
  bool fortran = false, have_descr = false, have_order = false, have_shape = false;
  Shape shape;
  p.expect('{');
  while (!p.consume('}')) {
    std::string key = p.string_literal();
    p.expect(':');
    if (key == "descr") { descr = p.string_literal(); have_descr = true; }
    else if (key == "fortran_order") { fortran = p.boolean(); have_order = true; }
    else if (key == "shape") { shape = p.shape_tuple(); have_shape = true; }
    else p.bad("unknown key '" + key + "'");
    if (!p.consume(',')) {
      p.expect('}');
      break;
    }
  }
  DSVD_CHECK(have_descr && have_order && have_shape, name, ": .npy header lacks ",
             !have_descr ? "'descr'" : !have_order ? "'fortran_order'" : "'shape'");
  DType dtype = dtype_from_descr(descr, name);
  DSVD_CHECK(!fortran, name, ": Fortran-order .npy files are not supported; save with "
             "np.ascontiguousarray(arr) first");

  int64_t numel = checked_numel(shape, name.c_str());
  size_t need = 0;
  DSVD_CHECK(!__builtin_mul_overflow(size_t(numel), itemsize(dtype), &need), name,
             ": shape ", shape_str(shape), " is too large");
  size_t have = bytes.size() - data_start;
  DSVD_CHECK(have >= need, name, ": truncated data: shape ", shape_str(shape), " of ", dtype_name(dtype),
             " needs ", need, " bytes, the file holds ", have);
  Tensor out = empty(shape, dtype);
  if (need) std::memcpy(out.data_ptr(), bytes.data() + data_start, need);
  return out;
}

Tensor load_npy(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  DSVD_CHECK(in.good(), path, ": cannot open for reading (", std::strerror(errno), ")");
  std::ostringstream buffer;
  buffer << in.rdbuf();
  DSVD_CHECK(!in.bad(), path, ": read error");
  return parse_npy(buffer.str(), path);
}

void save_npy(const std::string& path, const Tensor& t) {
  DSVD_CHECK(t.device().is_cpu(), "save_npy(", path, "): tensor is on ", t.device().str(),
             "; move it to the CPU first");
  Tensor data = t.contiguous();
  std::ostringstream dict;
  dict << "{'descr': '" << descr_of(t.dtype()) << "', 'fortran_order': False, 'shape': (";
  for (size_t i = 0; i < t.sizes().size(); ++i) dict << t.sizes()[i] << (t.dim() == 1 || i + 1 < t.sizes().size() ? "," : "");
  dict << "), }";
  std::string header = dict.str();
  // Pad with spaces so that magic + version + length + header + '\n' is a multiple of 64.
  int major = header.size() + 1 + 10 > 65535 ? 2 : 1;
  size_t prefix = 8 + (major == 1 ? 2 : 4);
  size_t total = (prefix + header.size() + 1 + 63) / 64 * 64;
  header.append(total - prefix - header.size() - 1, ' ');
  header.push_back('\n');

  std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    DSVD_CHECK(out.good(), "save_npy: cannot open ", tmp, " for writing (", std::strerror(errno), ")");
    out.write(kMagic, kMagicLen);
    char version[2] = {char(major), 0};
    out.write(version, 2);
    uint32_t len = uint32_t(header.size());
    unsigned char le[4] = {uint8_t(len), uint8_t(len >> 8), uint8_t(len >> 16), uint8_t(len >> 24)};
    out.write(reinterpret_cast<const char*>(le), major == 1 ? 2 : 4);
    out.write(header.data(), std::streamsize(header.size()));
    out.write(static_cast<const char*>(data.data_ptr()), std::streamsize(size_t(data.numel()) * itemsize(data.dtype())));
    out.flush();
    if (!out.good()) {
      std::remove(tmp.c_str());
      fail("save_npy: writing ", tmp, " failed (disk full?); ", path, " was left untouched");
    }
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    fail("save_npy: cannot rename ", tmp, " to ", path, " (", std::strerror(errno), ")");
  }
}

}  // namespace dsvd
