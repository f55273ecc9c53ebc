#include "nn/safetensors.h"

#include <filesystem>

#include <signal.h>

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "nn/json.h"

namespace dsvd::nn {
namespace {

constexpr uint64_t kMaxHeader = 100ull * 1000 * 1000;

const char* dtype_code(DType d) {
  switch (d) {
    case DType::Float32: return "F32";
    case DType::Float64: return "F64";
    case DType::Int64: return "I64";
    case DType::UInt8: return "U8";
  }
  return "?";
}

bool dtype_from_code(const std::string& code, DType* out) {
  if (code == "F32") *out = DType::Float32;
  else if (code == "F64") *out = DType::Float64;
  else if (code == "I64") *out = DType::Int64;
  else if (code == "U8") *out = DType::UInt8;
  else return false;
  return true;
}

std::string json_string(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') { out += '\\'; out += c; }
    else if (static_cast<unsigned char>(c) < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", unsigned(c));
      out += buf;
    } else out += c;
  }
  return out + "\"";
}

void write_all(int fd, const char* data, size_t n, const std::string& path) {
  while (n > 0) {
    ssize_t w = ::write(fd, data, n);
    if (w < 0 && errno == EINTR) continue;
    DSVD_CHECK(w > 0, "save_safetensors: writing ", path, " failed (", std::strerror(errno), ")");
    data += w;
    n -= size_t(w);
  }
}

}  // namespace

namespace {

// A writer killed mid-write leaves PATH.tmp.<pid> behind; those of processes that no longer
// exist are removed before the next write of PATH (a live writer's file is left alone).
void remove_abandoned_temporaries(const std::string& path) {
  namespace fs = std::filesystem;
  const fs::path p(path);
  const fs::path dir = p.has_parent_path() ? p.parent_path() : fs::path(".");
  const std::string prefix = p.filename().string() + ".tmp.";
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    const std::string name = e.path().filename().string();
    if (name.rfind(prefix, 0) != 0) continue;
    const std::string pid_text = name.substr(prefix.size());
    if (pid_text.empty() || pid_text.find_first_not_of("0123456789") != std::string::npos) continue;
    const long pid = std::strtol(pid_text.c_str(), nullptr, 10);
    if (pid != long(getpid()) && ::kill(pid_t(pid), 0) != 0 && errno == ESRCH) fs::remove(e.path(), ec);
  }
}

}  // namespace

void save_safetensors(const std::string& path, const NamedTensors& tensors, const std::map<std::string, std::string>& metadata) {
  std::vector<Tensor> data;
  std::ostringstream header;
  header << '{';
  bool first = true;
  if (!metadata.empty()) {
    header << "\"__metadata__\":{";
    for (auto it = metadata.begin(); it != metadata.end(); ++it)
      header << (it == metadata.begin() ? "" : ",") << json_string(it->first) << ':' << json_string(it->second);
    header << '}';
    first = false;
  }
  uint64_t offset = 0;
  std::vector<std::string> seen;
  for (const auto& [name, t] : tensors) {
    DSVD_CHECK(name != "__metadata__" && std::find(seen.begin(), seen.end(), name) == seen.end(), "save_safetensors(",
               path, "): duplicate or reserved tensor name '", name, "'");
    seen.push_back(name);
    Tensor c = t.detach().to(Device::cpu()).contiguous();  // a GPU tensor is written from a host copy
    uint64_t bytes = uint64_t(c.numel()) * itemsize(c.dtype());
    header << (first ? "" : ",") << json_string(name) << ":{\"dtype\":\"" << dtype_code(c.dtype()) << "\",\"shape\":[";
    for (size_t i = 0; i < c.sizes().size(); ++i) header << (i ? "," : "") << c.sizes()[i];
    header << "],\"data_offsets\":[" << offset << ',' << offset + bytes << "]}";
    offset += bytes;
    first = false;
    data.push_back(c);
  }
  header << '}';
  std::string h = header.str();
  while (h.size() % 8) h.push_back(' ');  // the data starts 8-byte aligned

  remove_abandoned_temporaries(path);
  std::string tmp = path + ".tmp." + std::to_string(getpid());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  DSVD_CHECK(fd >= 0, "save_safetensors: cannot create ", tmp, " (", std::strerror(errno), ")");
  try {
    uint64_t n = h.size();
    unsigned char le[8];
    for (int i = 0; i < 8; ++i) le[i] = uint8_t(n >> (8 * i));
    write_all(fd, reinterpret_cast<const char*>(le), 8, path);
    write_all(fd, h.data(), h.size(), path);
    for (const Tensor& t : data)
      write_all(fd, static_cast<const char*>(t.data_ptr()), size_t(t.numel()) * itemsize(t.dtype()), path);
    DSVD_CHECK(::fsync(fd) == 0, "save_safetensors: fsync of ", tmp, " failed (", std::strerror(errno), ")");
  } catch (...) {
    ::close(fd);
    ::unlink(tmp.c_str());
    throw;
  }
  ::close(fd);
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    int e = errno;
    ::unlink(tmp.c_str());
    fail("save_safetensors: cannot move ", tmp, " to ", path, " (", std::strerror(e), ")");
  }
  // Make the rename itself durable.
  std::string dir = path.find('/') == std::string::npos ? "." : path.substr(0, path.rfind('/') + (path.rfind('/') == 0));
  int dfd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
}

SafetensorsFile parse_safetensors(const std::string& bytes, const std::string& name) {
  DSVD_CHECK(bytes.size() >= 8, name, ": not a safetensors file (", bytes.size(), " bytes, shorter than the 8-byte "
             "header length)");
  uint64_t header_len = 0;
  for (int i = 7; i >= 0; --i) header_len = (header_len << 8) | static_cast<unsigned char>(bytes[size_t(i)]);
  DSVD_CHECK(header_len <= kMaxHeader, name, ": header length ", header_len, " exceeds the 100 MB limit");
  DSVD_CHECK(header_len <= bytes.size() - 8, name, ": header length ", header_len, " runs past the end of the file (",
             bytes.size(), " bytes)");
  json::Value header = json::parse(bytes.substr(8, header_len), name + ": header");
  DSVD_CHECK(header.kind == json::Value::Kind::Object, name, ": the header is not a JSON object");
  const size_t data_start = 8 + size_t(header_len);
  const uint64_t data_size = bytes.size() - data_start;

  SafetensorsFile file;
  struct Entry {
    std::string name;
    DType dtype;
    Shape shape;
    uint64_t begin, end;
  };
  std::vector<Entry> entries;
  for (const auto& [key, v] : header.object) {
    if (key == "__metadata__") {
      DSVD_CHECK(v.kind == json::Value::Kind::Object, name, ": __metadata__ must be an object of strings");
      for (const auto& [mk, mv] : v.object) {
        DSVD_CHECK(mv.kind == json::Value::Kind::String, name, ": __metadata__ entry '", mk, "' is not a string");
        file.metadata[mk] = mv.string;
      }
      continue;
    }
    DSVD_CHECK(v.kind == json::Value::Kind::Object, name, ": entry '", key, "' is not an object");
    const json::Value* dt = v.find("dtype");
    const json::Value* shape = v.find("shape");
    const json::Value* offsets = v.find("data_offsets");
    DSVD_CHECK(dt && dt->kind == json::Value::Kind::String && shape && shape->kind == json::Value::Kind::Array && offsets &&
                   offsets->kind == json::Value::Kind::Array && offsets->array.size() == 2,
               name, ": entry '", key, "' needs \"dtype\" (string), \"shape\" (array) and \"data_offsets\" ([begin, end])");
    Entry e;
    e.name = key;
    DSVD_CHECK(dtype_from_code(dt->string, &e.dtype), name, ": entry '", key, "' has dtype '", dt->string,
               "', which dsvd does not read (F32, F64, I64, U8)");
    for (const auto& d : shape->array) {
      DSVD_CHECK(d.kind == json::Value::Kind::Integer && d.integer >= 0, name, ": entry '", key,
                 "' has a shape entry that is not a non-negative integer");
      e.shape.push_back(d.integer);
    }
    for (const auto& o : offsets->array)
      DSVD_CHECK(o.kind == json::Value::Kind::Integer && o.integer >= 0, name, ": entry '", key,
                 "' has data_offsets that are not non-negative integers");
    e.begin = uint64_t(offsets->array[0].integer);
    e.end = uint64_t(offsets->array[1].integer);
    uint64_t count = 1, bytes_needed = 0;
    for (int64_t d : e.shape)
      DSVD_CHECK(!__builtin_mul_overflow(count, uint64_t(d), &count), name, ": entry '", key, "' has a shape whose "
                 "element count overflows");
    DSVD_CHECK(!__builtin_mul_overflow(count, uint64_t(itemsize(e.dtype)), &bytes_needed), name, ": entry '", key,
               "' has a byte size that overflows");
    DSVD_CHECK(e.begin <= e.end && e.end <= data_size, name, ": entry '", key, "' has data_offsets [", e.begin, ", ",
               e.end, "] outside the ", data_size, " data bytes");
    DSVD_CHECK(e.end - e.begin == bytes_needed, name, ": entry '", key, "' holds ", e.end - e.begin, " bytes but shape ",
               shape_str(e.shape), " of ", dtype_name(e.dtype), " needs ", bytes_needed);
    entries.push_back(e);
  }
  // The data must be covered exactly, without overlaps or holes.
  std::vector<const Entry*> by_offset;
  for (const auto& e : entries) by_offset.push_back(&e);
  std::sort(by_offset.begin(), by_offset.end(), [](const Entry* a, const Entry* b) {
    return a->begin != b->begin ? a->begin < b->begin : a->end < b->end;
  });
  uint64_t expected = 0;
  for (const Entry* e : by_offset) {
    DSVD_CHECK(e->begin == expected, name, ": entry '", e->name, "' starts at byte ", e->begin, " of the data but ",
               e->begin < expected ? "overlaps the previous entry" : "leaves a hole", " (expected ", expected, ")");
    expected = e->end;
  }
  DSVD_CHECK(expected == data_size, name, ": ", data_size - expected, " data bytes after the last entry belong to no tensor");
  for (const auto& e : entries) {
    Tensor t = empty(e.shape, e.dtype);
    if (e.end > e.begin) std::memcpy(t.data_ptr(), bytes.data() + data_start + e.begin, size_t(e.end - e.begin));
    file.tensors.emplace_back(e.name, t);
  }
  return file;
}

SafetensorsFile load_safetensors(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  DSVD_CHECK(in.good(), path, ": cannot open for reading (", std::strerror(errno), ")");
  std::ostringstream buffer;
  buffer << in.rdbuf();
  return parse_safetensors(buffer.str(), path);
}

void save_weights(const std::string& path, const Module& model, const std::map<std::string, std::string>& metadata) {
  save_safetensors(path, model.state_dict(), metadata);
}

void load_weights(const SafetensorsFile& file, const std::string& name, Module& model) {
  NamedTensors expected = model.state_dict();
  for (const auto& entry : expected) {
    const std::string& key = entry.first;  // not a structured binding: the lambda below captures it
    const Tensor& t = entry.second;
    auto it = std::find_if(file.tensors.begin(), file.tensors.end(), [&](const auto& e) { return e.first == key; });
    DSVD_CHECK(it != file.tensors.end(), name, ": missing tensor '", key, "' that the model needs (", shape_str(t.sizes()),
               ")");
    DSVD_CHECK(it->second.sizes() == t.sizes(), name, ": tensor '", key, "' has shape ", shape_str(it->second.sizes()),
               ", the model expects ", shape_str(t.sizes()));
    DSVD_CHECK(it->second.dtype() == t.dtype(), name, ": tensor '", key, "' is ", dtype_name(it->second.dtype()),
               ", the model expects ", dtype_name(t.dtype()));
  }
  for (const auto& entry : file.tensors) {
    const std::string& key = entry.first;
    bool known = std::any_of(expected.begin(), expected.end(), [&](const auto& e) { return e.first == key; });
    DSVD_CHECK(known, name, ": unexpected tensor '", key, "' that the model does not have (another architecture or head?)");
  }
  for (const auto& [key, t] : file.tensors) model.load_tensor(key, t);
}

void load_weights(const std::string& path, Module& model) { load_weights(load_safetensors(path), path, model); }

}  // namespace dsvd::nn
