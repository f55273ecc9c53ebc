#include "datasets/image.h"

#include <atomic>
#include <cctype>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <limits>
#include <sstream>

#include <stb/stb_image.h>
#include <stb/stb_image_write.h>

#include "dsvd_config.h"
#include "tensor/error.h"

#if DSVD_HAVE_TURBOJPEG
#include <turbojpeg.h>
#endif

namespace dsvd {
namespace {

constexpr int kMaxSide = 1 << 15;  // refuse absurd headers before allocating
// Decompression bombs: a small file can declare a huge image. Pillow refuses more than
// 2 x 89,478,485 pixels; so does dsvd by default (set_max_image_pixels changes it).
std::atomic<int64_t> g_max_pixels{2 * 89478485};

void check_pixels(int64_t w, int64_t h, const std::string& name, const char* kind) {
  DSVD_CHECK(w > 0 && h > 0 && w <= kMaxSide && h <= kMaxSide, name, ": ", kind, " of ", w, "x", h,
             " pixels is not supported");
  DSVD_CHECK(w * h <= g_max_pixels.load(), name, ": ", kind, " of ", w, "x", h, " = ", w * h,
             " pixels exceeds the limit of ", g_max_pixels.load(), " (a decompression bomb?)");
}

// Everything that stb_image would take for a JPEG goes to libjpeg-turbo instead: stb's JPEG
// decoder (Debian's stb 2.27) reads out of bounds on some malformed Huffman tables (found by
// fuzzing: tests/fixtures/fuzz/image_stb_jpeg_huffman_oob.jpg).
bool looks_like_jpeg(const std::string& bytes) {
  // stb's test: one or more 0xFF fill bytes, then the start-of-image code 0xD8
  size_t i = 0;
  while (i < bytes.size() && uint8_t(bytes[i]) == 0xFF) ++i;
  return i >= 1 && i < bytes.size() && uint8_t(bytes[i]) == 0xD8;
}

#if DSVD_HAVE_TURBOJPEG
// One decompressor per thread (creating one costs more than decoding a small image). After a
// failed decode the handle is thrown away: libjpeg-turbo can keep state from the broken stream
// (seen as "Bogus Huffman table definition" on the next, valid, file).
struct TurboHandle {
  tjhandle handle = nullptr;
  ~TurboHandle() { reset(); }
  tjhandle get() {
    if (!handle) handle = tjInitDecompress();
    return handle;
  }
  void reset() {
    if (handle) tjDestroy(handle);
    handle = nullptr;
  }
};

Image decode_jpeg_turbo(const std::string& bytes, const std::string& name) {
  thread_local TurboHandle turbo;
  tjhandle handle = turbo.get();
  DSVD_CHECK(handle != nullptr, name, ": cannot start libjpeg-turbo (", tjGetErrorStr(), ")");
  int width = 0, height = 0, subsampling = 0, colorspace = 0;
  auto* data = reinterpret_cast<const unsigned char*>(bytes.data());
  if (tjDecompressHeader3(handle, data, (unsigned long)bytes.size(), &width, &height, &subsampling, &colorspace) != 0) {
    std::string reason = tjGetErrorStr2(handle);
    turbo.reset();
    fail(name, ": not a decodable JPEG (", reason, ")");
  }
  check_pixels(width, height, name, "JPEG");
  Image img{width, height, std::vector<uint8_t>(size_t(width) * size_t(height) * 3)};
  if (tjDecompress2(handle, data, (unsigned long)bytes.size(), img.pixels.data(), width, 0, height, TJPF_RGB,
                    TJFLAG_ACCURATEDCT) != 0) {
    // Warnings (e.g. premature end of data) count as errors: a truncated image is skipped.
    std::string reason = tjGetErrorStr2(handle);
    turbo.reset();
    fail(name, ": corrupt or truncated JPEG (", reason, ")");
  }
  return img;
}
#endif

// stb_image's PNM reader trusts the header: its integers overflow an int, and a 16-bit image
// shorter than the header says is read past its end (both found by fuzzing). A binary PPM/PGM is
// therefore checked here first: numbers of at most 9 digits, and as many data bytes as declared.
void check_pnm_header(const std::string& bytes, const std::string& name) {
  if (bytes.size() < 2 || bytes[0] != 'P' || (bytes[1] != '5' && bytes[1] != '6')) return;
  const int64_t channels = bytes[1] == '6' ? 3 : 1;
  size_t i = 2;
  int64_t values[3] = {0, 0, 0};
  for (int number = 0; number < 3; ++number) {
    while (i < bytes.size()) {  // whitespace and comments, as stb skips them
      if (std::isspace(static_cast<unsigned char>(bytes[i]))) ++i;
      else if (bytes[i] == '#') while (i < bytes.size() && bytes[i] != '\n' && bytes[i] != '\r') ++i;
      else break;
    }
    size_t digits = 0;
    while (i < bytes.size() && std::isdigit(static_cast<unsigned char>(bytes[i]))) {
      values[number] = digits < 18 ? values[number] * 10 + (bytes[i] - '0') : values[number];
      ++i, ++digits;
    }
    DSVD_CHECK(digits <= 9, name, ": PNM header number with ", digits, " digits (corrupt header)");
    if (digits == 0) return;  // stb reports the malformed header itself
  }
  ++i;  // the single whitespace byte before the data
  const int64_t width = values[0], height = values[1], max_value = values[2];
  if (width <= 0 || height <= 0 || width > kMaxSide || height > kMaxSide) return;  // refused by check_pixels
  const int64_t need = width * height * channels * (max_value > 255 ? 2 : 1);
  const int64_t have = i <= bytes.size() ? int64_t(bytes.size() - i) : 0;
  DSVD_CHECK(have >= need, name, ": truncated PNM data (", width, "x", height, ", ", need, " bytes declared, ", have,
             " present)");
}

Image decode_stb(const std::string& bytes, const std::string& name) {
  DSVD_CHECK(bytes.size() <= size_t(std::numeric_limits<int>::max()), name, ": file too large to decode");
  check_pnm_header(bytes, name);
  auto* data = reinterpret_cast<const stbi_uc*>(bytes.data());
  int w = 0, h = 0, channels = 0;
  if (!stbi_info_from_memory(data, int(bytes.size()), &w, &h, &channels))
    fail(name, ": not a decodable image (", stbi_failure_reason(), ")");
  check_pixels(w, h, name, "image");
  // The file's own channel count, converted to RGB here: stb_image's conversion of 16-bit images
  // to another channel count writes a buffer of the wrong size (Debian's 2.27; found by fuzzing:
  // tests/fixtures/fuzz/image_stb_pnm16_channels.pgm). Same rule as stb's: gray is replicated,
  // alpha dropped.
  int native = 0;
  stbi_uc* pixels = stbi_load_from_memory(data, int(bytes.size()), &w, &h, &native, 0);
  if (!pixels) fail(name, ": corrupt image (", stbi_failure_reason(), ")");
  DSVD_CHECK(native >= 1 && native <= 4, name, ": image with ", native, " channels");
  const size_t count = size_t(w) * size_t(h);
  Image img{w, h, std::vector<uint8_t>(count * 3)};
  for (size_t p = 0; p < count; ++p) {
    const stbi_uc* src = pixels + p * size_t(native);
    uint8_t* dst = img.pixels.data() + p * 3;
    if (native <= 2) dst[0] = dst[1] = dst[2] = src[0];
    else dst[0] = src[0], dst[1] = src[1], dst[2] = src[2];
  }
  stbi_image_free(pixels);
  return img;
}

void append_bytes(void* context, void* data, int size) {
  static_cast<std::string*>(context)->append(static_cast<const char*>(data), size_t(size));
}

}  // namespace

void set_max_image_pixels(int64_t pixels) {
  DSVD_CHECK(pixels >= 1, "set_max_image_pixels: the limit must be positive, got ", pixels);
  g_max_pixels = pixels;
}

const char* jpeg_decoder_name() { return DSVD_HAVE_TURBOJPEG ? "libjpeg-turbo" : "stb_image"; }

Image decode_image(const std::string& bytes, const std::string& name) {
  DSVD_CHECK(!bytes.empty(), name, ": empty file");
#if DSVD_HAVE_TURBOJPEG
  if (looks_like_jpeg(bytes)) return decode_jpeg_turbo(bytes, name);
#else
  (void)looks_like_jpeg;
#endif
  return decode_stb(bytes, name);
}

Image load_image(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  DSVD_CHECK(in.good(), path, ": cannot open for reading (", std::strerror(errno), ")");
  std::ostringstream buffer;
  buffer << in.rdbuf();
  DSVD_CHECK(!in.bad(), path, ": read error");
  return decode_image(buffer.str(), path);
}

std::string encode_png(const Image& image) {
  std::string out;
  DSVD_CHECK(stbi_write_png_to_func(append_bytes, &out, image.width, image.height, 3, image.pixels.data(),
                                    image.width * 3),
             "encode_png: stb_image_write failed for a ", image.width, "x", image.height, " image");
  return out;
}

std::string encode_jpeg(const Image& image, int quality) {
  std::string out;
  DSVD_CHECK(stbi_write_jpg_to_func(append_bytes, &out, image.width, image.height, 3, image.pixels.data(), quality),
             "encode_jpeg: stb_image_write failed for a ", image.width, "x", image.height, " image");
  return out;
}

void write_file(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  DSVD_CHECK(out.good(), "write_file: cannot open ", path, " (", std::strerror(errno), ")");
  out.write(bytes.data(), std::streamsize(bytes.size()));
  DSVD_CHECK(out.good(), "write_file: writing ", path, " failed");
}

}  // namespace dsvd
