// Datasets as the DataLoader sees them: a size and a way to produce example i, with i's own
// random source for augmentation. ImageFolderDataset decodes and transforms files;
// FashionMnistDataset serves the built-in default data from memory.
#pragma once
#include <array>
#include <memory>
#include <string>

#include "datasets/idx.h"
#include "datasets/image_folder.h"
#include "datasets/sample_rng.h"
#include "datasets/transforms.h"
#include "tensor/error.h"
#include "tensor/tensor.h"

namespace dsvd {

struct Example {
  Tensor image;   // float32 (C, H, W)
  int64_t label;
};

// Thrown by Dataset::get for an example that cannot be read (a corrupt or truncated file); the
// loader skips it, warns with the message (which names the file) and counts it.
struct SkipExample : Error {
  using Error::Error;
};

class Dataset {
 public:
  virtual ~Dataset() = default;
  virtual size_t size() const = 0;
  virtual Example get(size_t index, SampleRng& rng) const = 0;
};

class ImageFolderDataset : public Dataset {
 public:
  ImageFolderDataset(ImageFolder folder, ImageTransform transform)
      : folder_(std::move(folder)), transform_(std::move(transform)) {}
  size_t size() const override { return folder_.size(); }
  Example get(size_t index, SampleRng& rng) const override;
  const ImageFolder& folder() const { return folder_; }

 private:
  ImageFolder folder_;
  ImageTransform transform_;
};

struct FashionMnistOptions {
  std::string root = kFashionMnistDefaultRoot;
  bool train = true;
  int channels = 1;           // 1, or 3 to repeat the gray channel for RGB models
  bool random_flip = false;   // horizontal flip with probability 0.5 (training augmentation)
  // Normalisation: the training set's pixel mean and standard deviation (of x/255).
  float mean = 0.2860f;
  float std = 0.3530f;
};

class FashionMnistDataset : public Dataset {
 public:
  explicit FashionMnistDataset(const FashionMnistOptions& options = {});
  size_t size() const override { return size_t(data_.images.size(0)); }
  Example get(size_t index, SampleRng& rng) const override;
  const FashionMnistSplit& data() const { return data_; }

 private:
  FashionMnistOptions options_;
  FashionMnistSplit data_;
};

}  // namespace dsvd
