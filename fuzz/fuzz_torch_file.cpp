// libFuzzer target: torch.save files on arbitrary bytes — the zip container (zip64, CRC), the legacy
// format and the restricted unpickler — then every tensor of the result read. Only a parsed file or a
// dsvd::Error may come out.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "serialization/torch_file.h"
#include "tensor/error.h"

namespace {

void read_all(const dsvd::serialization::Value& v) {
  if (v.kind == dsvd::serialization::Value::Kind::Tensor && v.tensor.defined()) (void)dsvd::to_vector(v.tensor);
  for (const auto& item : v.items) read_all(*item);
  for (const auto& [key, value] : v.entries) read_all(*value);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    auto bytes = std::make_shared<const std::string>(reinterpret_cast<const char*>(data), size);
    read_all(*dsvd::serialization::parse_torch_file(bytes, "fuzz.pth").object);
  } catch (const dsvd::Error&) {
  }
  return 0;
}
