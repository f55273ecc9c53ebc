// Decoding: PNG values exactly, grayscale and RGBA converted to RGB, JPEG close to the source and
// the same through libjpeg-turbo and stb_image, and clear errors naming the file.
#include <fstream>
#include <iterator>

#include <stb/stb_image.h>
#include <stb/stb_image_write.h>

#include "datasets/image.h"
#include "tests/datasets/dataset_test_util.h"
#include "tests/test_util.h"

using namespace dsvd;
using namespace dsvd::test;

namespace {
void append(void* context, void* data, int size) { static_cast<std::string*>(context)->append((const char*)data, size_t(size)); }
std::string png_with_channels(const std::vector<uint8_t>& pixels, int w, int h, int comp) {
  std::string out;
  stbi_write_png_to_func(append, &out, w, h, comp, pixels.data(), w * comp);
  return out;
}
}  // namespace

TEST_CASE("image: PNG decodes to the exact pixels; gray and RGBA become RGB") {
  Image src = make_image(7, 5, [](int y, int x, int c) { return (y * 31 + x * 7 + c * 80) % 256; });
  Image back = decode_image(encode_png(src), "mem.png");
  CHECK(back.width == 7);
  CHECK(back.height == 5);
  CHECK(back.pixels == src.pixels);

  std::vector<uint8_t> gray = {0, 50, 100, 150, 200, 250};
  Image g = decode_image(png_with_channels(gray, 3, 2, 1), "gray.png");
  REQUIRE(g.pixels.size() == 18);
  for (int i = 0; i < 6; ++i)
    for (int c = 0; c < 3; ++c) CHECK(g.pixels[size_t(i * 3 + c)] == gray[size_t(i)]);

  std::vector<uint8_t> rgba = {10, 20, 30, 0, 40, 50, 60, 255};
  Image a = decode_image(png_with_channels(rgba, 2, 1, 4), "rgba.png");
  CHECK(a.pixels == std::vector<uint8_t>{10, 20, 30, 40, 50, 60});  // alpha dropped, as PIL's convert("RGB")
}

TEST_CASE("image: JPEG decodes close to its source, identically in both decoders up to rounding") {
  Image src = make_image(64, 48, [](int y, int x, int c) { return 60 + 2 * x + y + 10 * c; });  // smooth
  std::string jpeg = encode_jpeg(src, 95);
  Image fast = decode_image(jpeg, "smooth.jpg");
  REQUIRE(fast.width == 64);
  REQUIRE(fast.height == 48);
  int worst = 0;
  for (size_t i = 0; i < src.pixels.size(); ++i) worst = std::max(worst, std::abs(int(fast.pixels[i]) - int(src.pixels[i])));
  CHECK(worst <= 8);
  // stb_image's own decoder on the same bytes (the fallback path).
  int w, h, n;
  stbi_uc* ref = stbi_load_from_memory((const stbi_uc*)jpeg.data(), int(jpeg.size()), &w, &h, &n, 3);
  REQUIRE(ref != nullptr);
  int between = 0;
  for (size_t i = 0; i < fast.pixels.size(); ++i) between = std::max(between, std::abs(int(fast.pixels[i]) - int(ref[i])));
  stbi_image_free(ref);
  MESSAGE("JPEG decoder: " << std::string(jpeg_decoder_name()) << "; max difference to stb_image: " << between);
  CHECK(between <= 3);
}

TEST_CASE("image: undecodable bytes give an error naming the file") {
  CHECK_THROWS_WITH_AS(decode_image("this is text, not an image", "notes.jpg"), doctest::Contains("notes.jpg"), Error);
  CHECK_THROWS_WITH_AS(decode_image("", "empty.png"), doctest::Contains("empty.png: empty file"), Error);
  std::string jpeg = encode_jpeg(uniform_image(32, 32, 128));
  CHECK_THROWS_WITH_AS(decode_image(jpeg.substr(0, jpeg.size() / 3), "cut.jpg"), doctest::Contains("cut.jpg"), Error);
  std::string png = encode_png(uniform_image(32, 32, 128));
  CHECK_THROWS_WITH_AS(decode_image(png.substr(0, png.size() / 2), "cut.png"), doctest::Contains("cut.png"), Error);
  CHECK_THROWS_WITH_AS(load_image("/nonexistent/a.png"), doctest::Contains("/nonexistent/a.png: cannot open"), Error);
}

TEST_CASE("image: inputs found by fuzzing (tests/fixtures/fuzz) give errors, not crashes") {
  // 0xFF fill bytes before the JPEG start-of-image code, and a Huffman table that made stb_image's
  // JPEG decoder read out of bounds: such bytes now go to libjpeg-turbo, which refuses them
  const std::string bytes = read_fixture("fuzz/image_stb_jpeg_huffman_oob.jpg");
  CHECK_THROWS_AS(decode_image(bytes, "crash.jpg"), Error);
  // a PNG with an empty data chunk: stb_image copied 0 bytes to a null pointer (undefined
  // behaviour that the sanitizers report); it decodes or fails cleanly now
  const std::string png_bytes = read_fixture("fuzz/image_stb_png_null_memcpy.png");
  try {
    Image img = decode_image(png_bytes, "crash.png");
    CHECK(img.pixels.size() == size_t(img.width) * size_t(img.height) * 3);
  } catch (const Error& e) {
    CHECK(std::string(e.what()).find("crash.png") != std::string::npos);
  }
  // a PPM header whose numbers overflowed stb_image's int parser
  const std::string ppm_bytes = read_fixture("fuzz/image_stb_pnm_int_overflow.ppm");
  CHECK_THROWS_AS(decode_image(ppm_bytes, "crash.ppm"), Error);
  CHECK_THROWS_WITH_AS(decode_image("P6 12345678901 2 255\n", "long.ppm"), doctest::Contains("11 digits"), Error);
  // a 16-bit PGM shorter than its header says: stb_image read past the end
  const std::string pgm_bytes = read_fixture("fuzz/image_stb_pnm16_truncated.pgm");
  CHECK_THROWS_WITH_AS(decode_image(pgm_bytes, "crash.pgm"), doctest::Contains("truncated PNM data"), Error);
  // a 16-bit PGM: stb's conversion to 3 channels overflowed its buffer; it decodes or fails cleanly
  const std::string pgm16_bytes = read_fixture("fuzz/image_stb_pnm16_channels.pgm");
  try {
    Image img = decode_image(pgm16_bytes, "crash16.pgm");
    CHECK(img.pixels.size() == size_t(img.width) * size_t(img.height) * 3);
  } catch (const Error& e) {
    CHECK(std::string(e.what()).find("crash16.pgm") != std::string::npos);
  }
  // a valid 16-bit gray PGM: big-endian samples, 8-bit result replicated to RGB
  Image gray16 = decode_image(std::string("P5 2 1 65535\n") + std::string("\xff\xff\x00\x00", 4), "g16.pgm");
  CHECK(gray16.pixels == std::vector<uint8_t>{255, 255, 255, 0, 0, 0});
  // and a well-formed one still decodes: 2x1 RGB, 8 bits
  Image tiny = decode_image(std::string("P6 2 1 255\n") + std::string("\x01\x02\x03\x04\x05\x06", 6), "tiny.ppm");
  CHECK(tiny.pixels == std::vector<uint8_t>{1, 2, 3, 4, 5, 6});
  // a header that declares more pixels than the limit is refused before any allocation
  set_max_image_pixels(100);
  CHECK_THROWS_WITH_AS(decode_image(encode_png(make_image(20, 20, [](int, int, int) { return 0; })), "big.png"),
                       doctest::Contains("exceeds the limit of 100"), Error);
  set_max_image_pixels(2 * 89478485);
}
