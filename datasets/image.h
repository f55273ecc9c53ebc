// Decoded images: 8-bit RGB, rows of width*3 bytes (HWC), the form every transform works on.
// JPEG is decoded by libjpeg-turbo when dsvd is built with it (the fast path), everything else
// (PNG, BMP, PPM/PGM, and JPEG without libjpeg-turbo) by stb_image. Grayscale and RGBA inputs
// become RGB (alpha is dropped, as PIL's convert("RGB") does).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace dsvd {

struct Image {
  int width = 0;
  int height = 0;
  std::vector<uint8_t> pixels;  // height * width * 3, row-major, RGB

  uint8_t at(int y, int x, int c) const { return pixels[(size_t(y) * size_t(width) + size_t(x)) * 3 + size_t(c)]; }
  uint8_t& at(int y, int x, int c) { return pixels[(size_t(y) * size_t(width) + size_t(x)) * 3 + size_t(c)]; }
};

// Decodes an in-memory file; `name` is used in the error message. Throws dsvd::Error naming the
// file and the decoder's reason when the bytes are not a decodable image.
Image decode_image(const std::string& bytes, const std::string& name);
// Images that declare more pixels than this are refused before decoding (default: Pillow's
// 178,956,970, against decompression bombs).
void set_max_image_pixels(int64_t pixels);
Image load_image(const std::string& path);
// Which decoder handles JPEG in this build ("libjpeg-turbo" or "stb_image").
const char* jpeg_decoder_name();

// Encoders for tests, benchmarks and dumps (stb_image_write).
std::string encode_png(const Image& image);
std::string encode_jpeg(const Image& image, int quality = 90);
void write_file(const std::string& path, const std::string& bytes);

}  // namespace dsvd
