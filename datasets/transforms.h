// Image transforms with torchvision's semantics (on PIL images), and the recipe's presets.
//
//   RandomResizedCrop(size, scale=(0.08,1), ratio=(3/4,4/3)): 10 tries, then the centre fallback
//   Resize(size): shorter side to `size`, the other int(size * long / short)
//   CenterCrop(size): offsets round((H-h)/2), round((W-w)/2) (Python rounding: half to even);
//                     zero padding when the image is smaller, as torchvision pads
//   RandomHorizontalFlip(p=0.5), ToTensor (/255, CHW float32), Normalize(mean, std)
//
// Resizing reproduces Pillow's BILINEAR resampling, which torchvision calls for PIL images: a
// triangle filter widened by the downscale factor (antialiasing), coefficients in 22-bit fixed
// point, a horizontal pass to an 8-bit intermediate, then a vertical pass. docs/data.md states
// the differences that remain.
#pragma once
#include <array>
#include <functional>

#include "datasets/image.h"
#include "datasets/sample_rng.h"
#include "tensor/tensor.h"

namespace dsvd {

struct CropBox {
  int top = 0, left = 0, height = 0, width = 0;
};

CropBox random_resized_crop_box(int height, int width, SampleRng& rng, double scale_min = 0.08,
                                double scale_max = 1.0, double ratio_min = 3.0 / 4.0, double ratio_max = 4.0 / 3.0);
// Resizes the `box` region of `image` to out_height x out_width (Pillow BILINEAR).
Image resize_region(const Image& image, const CropBox& box, int out_height, int out_width);
Image resize(const Image& image, int out_height, int out_width);
Image resize_shorter_side(const Image& image, int size);
Image center_crop(const Image& image, int height, int width);
Image horizontal_flip(const Image& image);

// (3, H, W) float32 in [0, 1].
Tensor to_tensor(const Image& image);
// (3, H, W) float32 of (pixel/255 - mean[c]) / std[c], in one pass.
Tensor to_normalized_tensor(const Image& image, const std::array<float, 3>& mean, const std::array<float, 3>& std);

constexpr std::array<float, 3> kImageNetMean = {0.485f, 0.456f, 0.406f};
constexpr std::array<float, 3> kImageNetStd = {0.229f, 0.224f, 0.225f};

// An image pipeline ending in a float tensor; `rng` is the example's own random source.
using ImageTransform = std::function<Tensor(const Image&, SampleRng&)>;
// RandomResizedCrop(size) + RandomHorizontalFlip + ToTensor + Normalize(ImageNet).
ImageTransform imagenet_train_transform(int size = 224);
// Resize(resize) + CenterCrop(size) + ToTensor + Normalize(ImageNet).
ImageTransform imagenet_val_transform(int resize_to = 256, int size = 224);

// The fine-grained benchmarks' pipelines of the TPAMI 2022 scripts (FGVC/*.sh), at `size` (448
// there), then ToTensor + Normalize(ImageNet); training adds RandomHorizontalFlip after the crop:
//   Cub       Resize(size) (shorter side) + CenterCrop(size)
//   Cars      Resize((size, size))
//   Aircraft  Resize((size·512/448, size·512/448)) + CenterCrop(size)
enum class FgvcBenchmark { Cub, Cars, Aircraft };
ImageTransform fgvc_transform(FgvcBenchmark benchmark, bool train, int size = 448);

}  // namespace dsvd
