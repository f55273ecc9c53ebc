// IDX files (the MNIST family's format), plain or gzip-compressed, and the Fashion-MNIST dataset.
//
// IDX: two zero bytes, a type byte (0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32, 0x0D float32,
// 0x0E float64), the number of dimensions, each dimension as a big-endian uint32, then the data
// in row-major order, big-endian.
#pragma once
#include <string>

#include "tensor/tensor.h"

namespace dsvd {

// Reads an IDX file (gzip or not). uint8 data stays uint8; signed integers become int64; floats
// keep their width. Throws dsvd::Error naming the file on a wrong magic, an unknown type, or
// data shorter or longer than the header says.
Tensor read_idx(const std::string& path);
// The same from the (uncompressed) bytes of an IDX file; `name` goes into error messages.
Tensor parse_idx(const std::string& bytes, const std::string& name);

// Where the Debian package dataset-fashion-mnist puts the files.
constexpr const char* kFashionMnistDefaultRoot = "/usr/share/datasets/fashion-mnist";

struct FashionMnistSplit {
  Tensor images;  // (N, 28, 28) uint8
  Tensor labels;  // (N) int64 in [0, 10)
};

// Loads `train` (60,000) or `test` (10,000) from root's {train,t10k}-{images-idx3,labels-idx1}-ubyte
// files, with or without .gz. Checks that images and labels agree in count and labels are < 10.
FashionMnistSplit load_fashion_mnist(const std::string& root, bool train);

constexpr const char* kFashionMnistClasses[10] = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                                 "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};

}  // namespace dsvd
