#include "datasets/dataset.h"

namespace dsvd {

Example ImageFolderDataset::get(size_t index, SampleRng& rng) const {
  DSVD_CHECK(index < folder_.size(), "ImageFolderDataset: index ", index, " out of range (", folder_.size(), " images)");
  const auto& sample = folder_.samples()[index];
  Image image;
  try {
    image = load_image(sample.path);
  } catch (const Error& e) {
    throw SkipExample(e.what());
  }
  return {transform_(image, rng), sample.label};
}

FashionMnistDataset::FashionMnistDataset(const FashionMnistOptions& options)
    : options_(options), data_(load_fashion_mnist(options.root, options.train)) {
  DSVD_CHECK(options.channels == 1 || options.channels == 3, "FashionMnistDataset: channels must be 1 or 3, got ",
             options.channels);
  DSVD_CHECK(options.std > 0, "FashionMnistDataset: std must be positive, got ", options.std);
}

Example FashionMnistDataset::get(size_t index, SampleRng& rng) const {
  DSVD_CHECK(index < size(), "FashionMnistDataset: index ", index, " out of range (", size(), " images)");
  constexpr int kSide = 28;
  const uint8_t* src = data_.images.data<uint8_t>() + index * kSide * kSide;
  const bool flip = options_.random_flip && rng.bernoulli(0.5);
  Tensor image = empty({options_.channels, kSide, kSide}, DType::Float32);
  float* dst = image.data<float>();
  for (int y = 0; y < kSide; ++y)
    for (int x = 0; x < kSide; ++x) {
      int sx = flip ? kSide - 1 - x : x;
      float v = (float(src[y * kSide + sx]) / 255.0f - options_.mean) / options_.std;
      for (int c = 0; c < options_.channels; ++c) dst[(c * kSide + y) * kSide + x] = v;
    }
  return {image, data_.labels.data<int64_t>()[index]};
}

}  // namespace dsvd
