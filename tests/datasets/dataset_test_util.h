// Helpers for the dataset tests: a temporary folder and synthetic images.
#pragma once
#include <filesystem>
#include <string>

#include "datasets/image.h"

namespace dsvd::test {

struct TempDir {
  std::filesystem::path path;
  TempDir() {
    std::string templ = (std::filesystem::temp_directory_path() / "dsvd_data_XXXXXX").string();
    path = mkdtemp(templ.data());
  }
  ~TempDir() { std::filesystem::remove_all(path); }
  std::string sub(const std::string& relative) const {
    std::filesystem::path p = path / relative;
    std::filesystem::create_directories(p.parent_path());
    return p.string();
  }
};

// A w x h image whose pixel (y, x, c) is f(y, x, c).
template <typename F>
Image make_image(int width, int height, F f) {
  Image img{width, height, std::vector<uint8_t>(size_t(width) * size_t(height) * 3)};
  for (int y = 0; y < height; ++y)
    for (int x = 0; x < width; ++x)
      for (int c = 0; c < 3; ++c) img.at(y, x, c) = uint8_t(f(y, x, c));
  return img;
}

inline Image uniform_image(int width, int height, int value) {
  return make_image(width, height, [value](int, int, int) { return value; });
}

}  // namespace dsvd::test
