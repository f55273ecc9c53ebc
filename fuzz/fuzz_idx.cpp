// libFuzzer target: the IDX (MNIST/Fashion-MNIST) reader on arbitrary uncompressed bytes.
#include <cstddef>
#include <cstdint>
#include <string>

#include "datasets/idx.h"
#include "tensor/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    dsvd::Tensor t = dsvd::parse_idx(std::string(reinterpret_cast<const char*>(data), size), "fuzz.idx");
    (void)dsvd::to_vector(t);
  } catch (const dsvd::Error&) {
  }
  return 0;
}
