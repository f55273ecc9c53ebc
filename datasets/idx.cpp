#include "datasets/idx.h"

#include <zlib.h>

#include <cstring>
#include <filesystem>

namespace dsvd {
namespace {

// Reads the whole file through zlib, which passes uncompressed files through unchanged.
std::string read_maybe_gzip(const std::string& path) {
  DSVD_CHECK(std::filesystem::exists(path), path, ": file does not exist");
  gzFile f = gzopen(path.c_str(), "rb");
  DSVD_CHECK(f != nullptr, path, ": cannot open (", std::strerror(errno), ")");
  std::string data;
  char buffer[1 << 16];
  int n = 0;
  while ((n = gzread(f, buffer, sizeof buffer)) > 0) data.append(buffer, size_t(n));
  int err = 0;
  const char* message = gzerror(f, &err);
  std::string reason = err != Z_OK && err != Z_STREAM_END ? message : "";
  gzclose(f);
  DSVD_CHECK(n == 0 && reason.empty(), path, ": corrupt or truncated gzip data (", reason, ")");
  return data;
}

uint32_t big_endian_u32(const unsigned char* p) {
  return (uint32_t(p[0]) << 24) | (uint32_t(p[1]) << 16) | (uint32_t(p[2]) << 8) | uint32_t(p[3]);
}

template <typename Raw, typename Out>
void convert_big_endian(const unsigned char* src, Out* dst, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    unsigned char b[sizeof(Raw)];
    for (size_t k = 0; k < sizeof(Raw); ++k) b[k] = src[size_t(i) * sizeof(Raw) + sizeof(Raw) - 1 - k];
    Raw v;
    std::memcpy(&v, b, sizeof(Raw));
    dst[i] = static_cast<Out>(v);
  }
}

}  // namespace

Tensor read_idx(const std::string& path) { return parse_idx(read_maybe_gzip(path), path); }

Tensor parse_idx(const std::string& data, const std::string& path) {
  auto* u = reinterpret_cast<const unsigned char*>(data.data());
  DSVD_CHECK(data.size() >= 4 && u[0] == 0 && u[1] == 0, path, ": not an IDX file (bad magic: expected two zero "
             "bytes, a type byte and a dimension count)");
  int type = u[2], ndim = u[3];
  size_t item = 0;
  DType dtype = DType::UInt8;
  switch (type) {
    case 0x08: item = 1; dtype = DType::UInt8; break;
    case 0x09: item = 1; dtype = DType::Int64; break;
    case 0x0B: item = 2; dtype = DType::Int64; break;
    case 0x0C: item = 4; dtype = DType::Int64; break;
    case 0x0D: item = 4; dtype = DType::Float32; break;
    case 0x0E: item = 8; dtype = DType::Float64; break;
    default: fail(path, ": unknown IDX data type 0x", std::hex, type, " (bad magic?)");
  }
  DSVD_CHECK(ndim >= 1, path, ": IDX header has 0 dimensions");
  size_t header = 4 + 4 * size_t(ndim);
  DSVD_CHECK(data.size() >= header, path, ": truncated IDX header");
  Shape shape;
  for (int d = 0; d < ndim; ++d) shape.push_back(int64_t(big_endian_u32(u + 4 + 4 * d)));
  int64_t numel = checked_numel(shape, path.c_str());
  size_t need = 0;
  DSVD_CHECK(!__builtin_mul_overflow(size_t(numel), item, &need), path, ": IDX shape ", shape_str(shape),
             " needs more bytes than fit in 64 bits");
  DSVD_CHECK(data.size() - header >= need, path, ": truncated data: shape ", shape_str(shape), " needs ", need,
             " bytes, the file holds ", data.size() - header);
  DSVD_CHECK(data.size() - header == need, path, ": ", data.size() - header - need,
             " unexpected bytes after the data of shape ", shape_str(shape));
  Tensor out = empty(shape, dtype);
  const unsigned char* src = u + header;
  switch (type) {
    case 0x08: std::memcpy(out.data_ptr(), src, need); break;
    case 0x09: convert_big_endian<int8_t>(src, out.data<int64_t>(), numel); break;
    case 0x0B: convert_big_endian<int16_t>(src, out.data<int64_t>(), numel); break;
    case 0x0C: convert_big_endian<int32_t>(src, out.data<int64_t>(), numel); break;
    case 0x0D: convert_big_endian<float>(src, out.data<float>(), numel); break;
    case 0x0E: convert_big_endian<double>(src, out.data<double>(), numel); break;
  }
  return out;
}

FashionMnistSplit load_fashion_mnist(const std::string& root, bool train) {
  const std::string prefix = train ? "train" : "t10k";
  auto find = [&](const std::string& stem) {
    for (const char* suffix : {".gz", ""}) {
      std::string p = root + "/" + stem + suffix;
      if (std::filesystem::exists(p)) return p;
    }
    fail("Fashion-MNIST: ", root, "/", stem, "[.gz] not found (install the Debian package dataset-fashion-mnist "
         "with tools/bootstrap, or pass the folder holding the IDX files)");
  };
  FashionMnistSplit split;
  std::string images_path = find(prefix + "-images-idx3-ubyte");
  std::string labels_path = find(prefix + "-labels-idx1-ubyte");
  split.images = read_idx(images_path);
  Tensor labels = read_idx(labels_path);
  DSVD_CHECK(split.images.dim() == 3 && split.images.size(1) == 28 && split.images.size(2) == 28 &&
                 split.images.dtype() == DType::UInt8,
             images_path, ": expected uint8 images of shape (N, 28, 28), got ", dtype_name(split.images.dtype()), " ",
             shape_str(split.images.sizes()));
  DSVD_CHECK(labels.dim() == 1 && labels.size(0) == split.images.size(0), labels_path, ": ", labels.numel(),
             " labels for ", split.images.size(0), " images");
  split.labels = labels.to(DType::Int64);
  const int64_t* l = split.labels.data<int64_t>();
  for (int64_t i = 0; i < split.labels.numel(); ++i)
    DSVD_CHECK(l[i] >= 0 && l[i] < 10, labels_path, ": label ", l[i], " at index ", i, " is outside 0..9");
  return split;
}

}  // namespace dsvd
