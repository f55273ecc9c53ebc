// Transforms against values computed by hand: Pillow's bilinear resampling up and down, Resize of
// the shorter side, CenterCrop offsets with Python rounding and padding, flip, RandomResizedCrop's
// bounds and fallback, and ToTensor + Normalize.
#include <cmath>

#include "datasets/transforms.h"
#include "tensor/npy.h"
#include "tests/datasets/dataset_test_util.h"
#include "tests/test_util.h"

using namespace dsvd;
using namespace dsvd::test;

namespace {
// Pillow rounds each pass to 8 bits: floor(v + 0.5).
int round8(double v) { return int(std::floor(v + 0.5)); }
}  // namespace

TEST_CASE("transforms: bilinear upsampling 2x2 -> 4x4 matches the hand computation") {
  // Pixels a=0 (0,0), b=200 (0,1), c=100 (1,0), d=40 (1,1), same in every channel.
  Image src = make_image(2, 2, [](int y, int x, int) { return (y == 0 ? (x == 0 ? 0 : 200) : (x == 0 ? 100 : 40)); });
  Image out = resize(src, 4, 4);
  // For a factor-2 upsample each output column/row mixes its neighbours with weights
  // (1, 0), (3/4, 1/4), (1/4, 3/4), (0, 1).
  const double w[4][2] = {{1, 0}, {0.75, 0.25}, {0.25, 0.75}, {0, 1}};
  int row0[4], row1[4];
  for (int x = 0; x < 4; ++x) {
    row0[x] = round8(w[x][0] * 0 + w[x][1] * 200);
    row1[x] = round8(w[x][0] * 100 + w[x][1] * 40);
  }
  CHECK(row1[1] == 85);
  CHECK(row1[2] == 55);
  for (int y = 0; y < 4; ++y)
    for (int x = 0; x < 4; ++x) {
      int expected = round8(w[y][0] * row0[x] + w[y][1] * row1[x]);
      CAPTURE(y);
      CAPTURE(x);
      for (int c = 0; c < 3; ++c) CHECK(int(out.at(y, x, c)) == expected);
    }
  CHECK(int(out.at(1, 1, 0)) == 59);  // 0.75*50 + 0.25*85 = 58.75
}

TEST_CASE("transforms: bilinear downsampling widens the filter (antialiasing) as Pillow does") {
  // One row 10 20 30 40 -> 2 pixels. Output 0 is centred at 1.0 with a triangle of half-width 2:
  // weights 3/7, 3/7, 1/7 on pixels 0..2; output 1 weights 1/7, 3/7, 3/7 on pixels 1..3.
  Image src = make_image(4, 1, [](int, int x, int) { return 10 * (x + 1); });
  Image out = resize(src, 1, 2);
  CHECK(int(out.at(0, 0, 0)) == round8((3 * 10 + 3 * 20 + 1 * 30) / 7.0));  // 17
  CHECK(int(out.at(0, 1, 2)) == round8((1 * 20 + 3 * 30 + 3 * 40) / 7.0));  // 33
  // Same size: unchanged.
  Image same = resize(src, 1, 4);
  CHECK(same.pixels == src.pixels);
}

TEST_CASE("transforms: Resize of the shorter side and CenterCrop offsets") {
  Image wide = uniform_image(300, 200, 7);
  Image r = resize_shorter_side(wide, 100);
  CHECK(r.height == 100);
  CHECK(r.width == 150);
  Image tall = uniform_image(201, 299, 7);
  Image t = resize_shorter_side(tall, 100);
  CHECK(t.width == 100);
  CHECK(t.height == 148);  // int(100 * 299 / 201) = int(148.76)
  CHECK(t.pixels == std::vector<uint8_t>(t.pixels.size(), 7));  // a flat image stays flat

  // 4 wide x 5 high, pixel = 10*y + x; crop 2x2: top = round(1.5) = 2 (half to even), left = 1.
  Image grid = make_image(4, 5, [](int y, int x, int) { return 10 * y + x; });
  Image c = center_crop(grid, 2, 2);
  CHECK(int(c.at(0, 0, 0)) == 21);
  CHECK(int(c.at(1, 1, 0)) == 32);
  // 3x3 from 4 wide x 5 high: top = round(1.0) = 1, left = round(0.5) = 0.
  Image c3 = center_crop(grid, 3, 3);
  CHECK(int(c3.at(0, 0, 0)) == 10);
  // Larger than the image: zero padding, the image centred (left/top pads are the floor half).
  Image small = uniform_image(2, 2, 9);
  Image padded = center_crop(small, 4, 5);
  CHECK(padded.width == 5);
  CHECK(padded.height == 4);
  CHECK(int(padded.at(0, 0, 0)) == 0);
  CHECK(int(padded.at(1, 1, 0)) == 9);  // pad_top = 1, pad_left = 1
  CHECK(int(padded.at(2, 2, 0)) == 9);
  CHECK(int(padded.at(2, 3, 0)) == 0);
}

TEST_CASE("transforms: horizontal flip and ToTensor + Normalize") {
  Image img = make_image(3, 2, [](int y, int x, int c) { return 100 * c + 10 * y + x; });
  Image f = horizontal_flip(img);
  CHECK(int(f.at(0, 0, 0)) == 2);
  CHECK(int(f.at(1, 2, 2)) == 210);
  Tensor t = to_tensor(img);
  CHECK(t.sizes() == Shape{3, 2, 3});
  CHECK(t.select(0, 2).select(0, 1).select(0, 2).item() == doctest::Approx(212.0 / 255.0));
  Tensor n = to_normalized_tensor(img, kImageNetMean, kImageNetStd);
  float expected = (float(112) / 255.0f - 0.456f) / 0.224f;  // channel 1, y 1, x 2
  CHECK(float(n.select(0, 1).select(0, 1).select(0, 2).item()) == expected);
}

TEST_CASE("transforms: RandomResizedCrop stays inside, honours scale and ratio, and falls back") {
  const int H = 375, W = 500;
  int fallback_like = 0;
  double min_scale = 1, max_scale = 0, min_ratio = 10, max_ratio = 0;
  for (uint64_t i = 0; i < 5000; ++i) {
    SampleRng rng(1, 0, i);
    CropBox b = random_resized_crop_box(H, W, rng);
    REQUIRE(b.top >= 0);
    REQUIRE(b.left >= 0);
    REQUIRE(b.height > 0);
    REQUIRE(b.width > 0);
    REQUIRE(b.top + b.height <= H);
    REQUIRE(b.left + b.width <= W);
    double scale = double(b.height) * b.width / (double(H) * W), ratio = double(b.width) / b.height;
    if (b.height == H && b.width == W) ++fallback_like;
    min_scale = std::min(min_scale, scale);
    max_scale = std::max(max_scale, scale);
    min_ratio = std::min(min_ratio, ratio);
    max_ratio = std::max(max_ratio, ratio);
  }
  // Rounding w and h to integers moves scale and ratio by a fraction of a pixel.
  CHECK(min_scale >= 0.08 * 0.97);
  CHECK(min_scale < 0.09);
  CHECK(max_scale <= 1.0);
  CHECK(min_ratio >= 0.75 * 0.97);
  CHECK(max_ratio <= 4.0 / 3.0 * 1.03);
  CHECK(min_ratio < 0.77);
  CHECK(max_ratio > 1.30);
  // 10 x 1000: no attempt can fit (h >= 24 > 10), so the centre fallback clamps the aspect to 4/3.
  SampleRng rng(5, 0, 0);
  CropBox fb = random_resized_crop_box(10, 1000, rng);
  CHECK(fb.height == 10);
  CHECK(fb.width == 13);  // round(10 * 4/3)
  CHECK(fb.top == 0);
  CHECK(fb.left == (1000 - 13) / 2);
  // The same (seed, epoch, index) always gives the same box.
  SampleRng a(9, 3, 77), b(9, 3, 77);
  CropBox ba = random_resized_crop_box(H, W, a), bb = random_resized_crop_box(H, W, b);
  CHECK((ba.top == bb.top && ba.left == bb.left && ba.height == bb.height && ba.width == bb.width));
}

TEST_CASE("transforms: the recipe presets produce normalised 224x224 tensors") {
  Image img = make_image(500, 375, [](int y, int x, int c) { return (x + y + 50 * c) % 256; });
  SampleRng rng(0, 0, 0);
  Tensor tr = imagenet_train_transform()(img, rng);
  CHECK(tr.sizes() == Shape{3, 224, 224});
  Tensor va = imagenet_val_transform()(img, rng);
  CHECK(va.sizes() == Shape{3, 224, 224});
  // A flat image normalises to (v/255 - mean) / std everywhere, whatever the crop.
  Image flat = uniform_image(300, 200, 128);
  Tensor f = imagenet_train_transform(64)(flat, rng);
  auto v = to_vector(f.select(0, 0));
  for (double e : v) REQUIRE(float(e) == (128.0f / 255.0f - 0.485f) / 0.229f);
}

// The fine-grained pipelines on images whose resize step is the identity, so that the crop and
// the flip can be checked pixel by pixel: CUB crops the centre of the longer side, Cars keeps the
// image, Aircraft resizes to size·512/448 = 73 at size 64 and crops at round(9/2) = 4 (Python's
// rounding, half to even). Training flips about half of the examples, validation none.
TEST_CASE("transforms: the fine-grained pipelines crop, resize and flip as the TPAMI scripts do") {
  auto pixel = [](int y, int x, int c) { return (7 * x + 3 * y + 40 * c) % 256; };
  auto expected = [&](int top, int left, bool flipped, int y, int x, int c) {
    const int source_x = flipped ? left + 63 - x : left + x;
    const float v = float(pixel(top + y, source_x, c)) / 255.0f;
    return (v - kImageNetMean[size_t(c)]) / kImageNetStd[size_t(c)];
  };
  struct Case {
    FgvcBenchmark benchmark;
    int width, height, top, left;
  };
  const Case cases[] = {{FgvcBenchmark::Cub, 80, 64, 0, 8},
                        {FgvcBenchmark::Cub, 64, 90, 13, 0},
                        {FgvcBenchmark::Cars, 64, 64, 0, 0},
                        {FgvcBenchmark::Aircraft, 73, 73, 4, 4}};
  for (const Case& k : cases) {
    CAPTURE(int(k.benchmark));
    CAPTURE(k.width);
    const Image img = make_image(k.width, k.height, pixel);
    int flips = 0;
    for (bool train : {false, true})
      for (uint64_t example = 0; example < 16; ++example) {
        SampleRng rng(3, 0, example);
        const Tensor t = fgvc_transform(k.benchmark, train, 64)(img, rng);
        REQUIRE(t.sizes() == Shape{3, 64, 64});
        const float* p = t.data<float>();
        const bool flipped = p[0] != expected(k.top, k.left, false, 0, 0, 0);
        CHECK((train || !flipped));
        flips += flipped;
        for (int c = 0; c < 3; ++c)
          for (int y = 0; y < 64; ++y)
            for (int x = 0; x < 64; ++x) REQUIRE(p[(c * 64 + y) * 64 + x] == expected(k.top, k.left, flipped, y, x, c));
      }
    CHECK(flips > 2);
    CHECK(flips < 14);
  }
  // At 448: CUB's shorter side and Aircraft's 512 resize, both centre-cropped to 448.
  SampleRng rng(0, 0, 0);
  const Image photo = make_image(500, 375, pixel);
  for (FgvcBenchmark b : {FgvcBenchmark::Cub, FgvcBenchmark::Cars, FgvcBenchmark::Aircraft})
    CHECK(fgvc_transform(b, false)(photo, rng).sizes() == Shape{3, 448, 448});
  CHECK(to_vector(fgvc_transform(FgvcBenchmark::Aircraft, false)(photo, rng)) ==
        to_vector(to_normalized_tensor(center_crop(resize(photo, 512, 512), 448, 448), kImageNetMean, kImageNetStd)));
}

// The same pipelines against torchvision + Pillow (tests/fixtures/make_fgvc_fixtures.py: the
// evaluation transforms at size 32 of a 90x70 image from this closed form), pixel for pixel.
TEST_CASE("transforms: the fine-grained pipelines equal torchvision's") {
  const Image img = make_image(90, 70, [](int y, int x, int c) { return (x * x + 3 * y * y + 7 * x * y + 50 * c) % 256; });
  const std::pair<FgvcBenchmark, const char*> cases[] = {
      {FgvcBenchmark::Cub, "fgvc_cub_32.npy"}, {FgvcBenchmark::Cars, "fgvc_cars_32.npy"},
      {FgvcBenchmark::Aircraft, "fgvc_aircraft_32.npy"}};
  for (const auto& [benchmark, file] : cases) {
    CAPTURE(std::string(file));
    SampleRng rng(0, 0, 0);
    const Tensor ours = fgvc_transform(benchmark, false, 32)(img, rng);
    const Tensor theirs = load_npy(fixture_path(file));
    REQUIRE(ours.sizes() == theirs.sizes());
    CHECK(max(abs(sub(ours, theirs))).item() == 0.0);
  }
}
