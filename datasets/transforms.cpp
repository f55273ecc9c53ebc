#include "datasets/transforms.h"

#include <algorithm>
#include <cmath>

#include "tensor/error.h"

namespace dsvd {
namespace {

// --- Pillow-compatible bilinear resampling (Pillow's src/libImaging/Resample.c) ---
constexpr int kPrecisionBits = 32 - 8 - 2;

double bilinear_filter(double x) {
  x = std::fabs(x);
  return x < 1.0 ? 1.0 - x : 0.0;
}

struct Coefficients {
  int taps = 0;                  // coefficients per output pixel
  std::vector<int> first, count; // source range per output pixel
  std::vector<int32_t> weights;  // out_size * taps, fixed point
};

// Filter taps for mapping source positions [0, in_size) onto out_size pixels.
Coefficients precompute(int in_size, int out_size) {
  double scale = double(in_size) / out_size;
  double filterscale = std::max(scale, 1.0);
  double support = 1.0 * filterscale;
  Coefficients c;
  c.taps = int(std::ceil(support)) * 2 + 1;
  c.first.resize(size_t(out_size));
  c.count.resize(size_t(out_size));
  c.weights.assign(size_t(out_size) * size_t(c.taps), 0);
  std::vector<double> k(size_t(c.taps));
  for (int xx = 0; xx < out_size; ++xx) {
    double center = (xx + 0.5) * scale;
    double ss = 1.0 / filterscale;
    int xmin = std::max(int(center - support + 0.5), 0);
    int xmax = std::min(int(center + support + 0.5), in_size) - xmin;
    double total = 0;
    for (int x = 0; x < xmax; ++x) {
      k[size_t(x)] = bilinear_filter((x + xmin - center + 0.5) * ss);
      total += k[size_t(x)];
    }
    for (int x = 0; x < xmax; ++x) {
      double w = total != 0.0 ? k[size_t(x)] / total : 0.0;
      c.weights[size_t(xx) * size_t(c.taps) + size_t(x)] =
          w < 0 ? int32_t(-0.5 + w * (1 << kPrecisionBits)) : int32_t(0.5 + w * (1 << kPrecisionBits));
    }
    c.first[size_t(xx)] = xmin;
    c.count[size_t(xx)] = xmax;
  }
  return c;
}

inline uint8_t clip8(int64_t v) {
  v >>= kPrecisionBits;
  return uint8_t(v < 0 ? 0 : v > 255 ? 255 : v);
}

}  // namespace

CropBox random_resized_crop_box(int height, int width, SampleRng& rng, double scale_min, double scale_max,
                                double ratio_min, double ratio_max) {
  const double area = double(height) * width;
  const double log_lo = std::log(ratio_min), log_hi = std::log(ratio_max);
  for (int attempt = 0; attempt < 10; ++attempt) {
    double target_area = area * rng.uniform(scale_min, scale_max);
    double aspect = std::exp(rng.uniform(log_lo, log_hi));
    int w = int(std::nearbyint(std::sqrt(target_area * aspect)));  // Python round: half to even
    int h = int(std::nearbyint(std::sqrt(target_area / aspect)));
    if (0 < w && w <= width && 0 < h && h <= height) {
      int top = int(rng.randint(0, height - h + 1));
      int left = int(rng.randint(0, width - w + 1));
      return {top, left, h, w};
    }
  }
  // Fallback: the whole image if its aspect is in range, else the largest centred crop with the
  // aspect clamped to the range.
  double in_ratio = double(width) / height;
  int w = width, h = height;
  if (in_ratio < ratio_min) {
    h = int(std::nearbyint(w / ratio_min));
  } else if (in_ratio > ratio_max) {
    w = int(std::nearbyint(h * ratio_max));
  }
  return {(height - h) / 2, (width - w) / 2, h, w};
}

Image resize_region(const Image& image, const CropBox& box, int out_height, int out_width) {
  DSVD_CHECK(box.height > 0 && box.width > 0 && box.top >= 0 && box.left >= 0 &&
                 box.top + box.height <= image.height && box.left + box.width <= image.width,
             "resize: crop box (top ", box.top, ", left ", box.left, ", ", box.height, "x", box.width,
             ") lies outside the ", image.height, "x", image.width, " image");
  DSVD_CHECK(out_height > 0 && out_width > 0, "resize: output size ", out_height, "x", out_width, " must be positive");
  // Horizontal pass over every row of the box (into 8-bit, as Pillow does), then vertical.
  const bool horizontal = out_width != box.width;
  const bool vertical = out_height != box.height;
  Coefficients ch = precompute(box.width, out_width);
  Coefficients cv = precompute(box.height, out_height);

  Image temp{out_width, box.height, std::vector<uint8_t>(size_t(out_width) * size_t(box.height) * 3)};
  for (int y = 0; y < box.height; ++y) {
    const uint8_t* src = &image.pixels[(size_t(box.top + y) * size_t(image.width) + size_t(box.left)) * 3];
    uint8_t* dst = &temp.pixels[size_t(y) * size_t(out_width) * 3];
    if (!horizontal) {
      std::copy(src, src + size_t(out_width) * 3, dst);
      continue;
    }
    for (int xx = 0; xx < out_width; ++xx) {
      const int32_t* k = &ch.weights[size_t(xx) * size_t(ch.taps)];
      const uint8_t* p = src + size_t(ch.first[size_t(xx)]) * 3;
      int64_t s0 = 1 << (kPrecisionBits - 1), s1 = s0, s2 = s0;
      for (int x = 0; x < ch.count[size_t(xx)]; ++x) {
        s0 += int64_t(p[3 * x]) * k[x];
        s1 += int64_t(p[3 * x + 1]) * k[x];
        s2 += int64_t(p[3 * x + 2]) * k[x];
      }
      dst[3 * xx] = clip8(s0);
      dst[3 * xx + 1] = clip8(s1);
      dst[3 * xx + 2] = clip8(s2);
    }
  }
  if (!vertical) return temp;
  Image out{out_width, out_height, std::vector<uint8_t>(size_t(out_width) * size_t(out_height) * 3)};
  const size_t row = size_t(out_width) * 3;
  std::vector<int64_t> acc(row);
  for (int yy = 0; yy < out_height; ++yy) {
    const int32_t* k = &cv.weights[size_t(yy) * size_t(cv.taps)];
    std::fill(acc.begin(), acc.end(), int64_t(1) << (kPrecisionBits - 1));
    for (int y = 0; y < cv.count[size_t(yy)]; ++y) {
      const uint8_t* src = &temp.pixels[size_t(cv.first[size_t(yy)] + y) * row];
      const int64_t w = k[y];
      for (size_t i = 0; i < row; ++i) acc[i] += int64_t(src[i]) * w;
    }
    uint8_t* dst = &out.pixels[size_t(yy) * row];
    for (size_t i = 0; i < row; ++i) dst[i] = clip8(acc[i]);
  }
  return out;
}

Image resize(const Image& image, int out_height, int out_width) {
  return resize_region(image, {0, 0, image.height, image.width}, out_height, out_width);
}

Image resize_shorter_side(const Image& image, int size) {
  DSVD_CHECK(size > 0, "resize: size must be positive, got ", size);
  int h = image.height, w = image.width;
  if (w <= h) return resize(image, int(int64_t(size) * h / w), size);
  return resize(image, size, int(int64_t(size) * w / h));
}

Image center_crop(const Image& image, int height, int width) {
  DSVD_CHECK(height > 0 && width > 0, "center_crop: size ", height, "x", width, " must be positive");
  // torchvision pads a too-small image with zeros (left/top get the smaller half), then crops.
  int pad_left = width > image.width ? (width - image.width) / 2 : 0;
  int pad_top = height > image.height ? (height - image.height) / 2 : 0;
  int padded_w = std::max(width, image.width), padded_h = std::max(height, image.height);
  int top = int(std::nearbyint((padded_h - height) / 2.0));
  int left = int(std::nearbyint((padded_w - width) / 2.0));
  Image out{width, height, std::vector<uint8_t>(size_t(width) * size_t(height) * 3, 0)};
  for (int y = 0; y < height; ++y) {
    int sy = y + top - pad_top;
    if (sy < 0 || sy >= image.height) continue;
    for (int x = 0; x < width; ++x) {
      int sx = x + left - pad_left;
      if (sx < 0 || sx >= image.width) continue;
      for (int c = 0; c < 3; ++c) out.at(y, x, c) = image.at(sy, sx, c);
    }
  }
  return out;
}

Image horizontal_flip(const Image& image) {
  Image out = image;
  for (int y = 0; y < image.height; ++y)
    for (int x = 0; x < image.width; ++x)
      for (int c = 0; c < 3; ++c) out.at(y, x, c) = image.at(y, image.width - 1 - x, c);
  return out;
}

Tensor to_normalized_tensor(const Image& image, const std::array<float, 3>& mean, const std::array<float, 3>& std) {
  Tensor out = empty({3, image.height, image.width}, DType::Float32);
  float* o = out.data<float>();
  const size_t plane = size_t(image.height) * size_t(image.width);
  const uint8_t* p = image.pixels.data();
  for (int c = 0; c < 3; ++c) {
    // Same float32 operations as ToTensor then Normalize: (x / 255 - mean) / std.
    const float m = mean[size_t(c)], s = std[size_t(c)];
    float* dst = o + size_t(c) * plane;
    for (size_t i = 0; i < plane; ++i) dst[i] = (float(p[3 * i + size_t(c)]) / 255.0f - m) / s;
  }
  return out;
}

Tensor to_tensor(const Image& image) { return to_normalized_tensor(image, {0, 0, 0}, {1, 1, 1}); }

ImageTransform imagenet_train_transform(int size) {
  return [size](const Image& image, SampleRng& rng) {
    CropBox box = random_resized_crop_box(image.height, image.width, rng);
    Image crop = resize_region(image, box, size, size);
    if (rng.bernoulli(0.5)) crop = horizontal_flip(crop);
    return to_normalized_tensor(crop, kImageNetMean, kImageNetStd);
  };
}

ImageTransform imagenet_val_transform(int resize_to, int size) {
  return [resize_to, size](const Image& image, SampleRng&) {
    return to_normalized_tensor(center_crop(resize_shorter_side(image, resize_to), size, size), kImageNetMean,
                                kImageNetStd);
  };
}

ImageTransform fgvc_transform(FgvcBenchmark benchmark, bool train, int size) {
  return [benchmark, train, size](const Image& image, SampleRng& rng) {
    Image out;
    switch (benchmark) {
      case FgvcBenchmark::Cub: out = center_crop(resize_shorter_side(image, size), size, size); break;
      case FgvcBenchmark::Cars: out = resize(image, size, size); break;
      case FgvcBenchmark::Aircraft: {
        const int larger = size * 512 / 448;
        out = center_crop(resize(image, larger, larger), size, size);
        break;
      }
    }
    if (train && rng.bernoulli(0.5)) out = horizontal_flip(out);
    return to_normalized_tensor(out, kImageNetMean, kImageNetStd);
  };
}

}  // namespace dsvd
