// libFuzzer target: the safetensors reader on arbitrary bytes (header length, JSON header,
// offsets, dtypes, shapes). Only a parsed file or a dsvd::Error may come out.
#include <cstddef>
#include <cstdint>
#include <string>

#include "nn/safetensors.h"
#include "tensor/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    dsvd::nn::SafetensorsFile f =
        dsvd::nn::parse_safetensors(std::string(reinterpret_cast<const char*>(data), size), "fuzz.safetensors");
    for (const auto& [name, t] : f.tensors) (void)dsvd::to_vector(t);
  } catch (const dsvd::Error&) {
  }
  return 0;
}
