// libFuzzer target: image decoding as the dataset path does it (libjpeg-turbo for JPEG, stb_image
// for the rest), then the training transform on what decoded. Only an image or a dsvd::Error.
#include <cstddef>
#include <cstdint>
#include <string>

#include "datasets/image.h"
#include "datasets/sample_rng.h"
#include "datasets/transforms.h"
#include "tensor/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  dsvd::set_max_image_pixels(1 << 20);  // a declared 30000x30000 image would take seconds per input
  try {
    dsvd::Image img = dsvd::decode_image(std::string(reinterpret_cast<const char*>(data), size), "fuzz.img");
    if (img.width > 0 && img.height > 0 && img.width * img.height <= 1 << 16) {
      auto transform = dsvd::imagenet_train_transform(32);
      dsvd::SampleRng rng(1, 0, 0);
      (void)transform(img, rng);
    }
  } catch (const dsvd::Error&) {
  }
  return 0;
}
