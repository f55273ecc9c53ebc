// libFuzzer target: the .npy reader on arbitrary bytes. Any outcome but a returned tensor or a
// dsvd::Error (a crash, a hang, a sanitizer report, another exception) is a bug.
#include <cstddef>
#include <cstdint>
#include <string>

#include "tensor/npy.h"
#include "tensor/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    dsvd::Tensor t = dsvd::parse_npy(std::string(reinterpret_cast<const char*>(data), size), "fuzz.npy");
    (void)dsvd::to_vector(t);  // every element readable
  } catch (const dsvd::Error&) {
  }
  return 0;
}
