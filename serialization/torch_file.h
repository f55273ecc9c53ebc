// torch.save files read natively, with no Python: the zip container of PyTorch >= 1.6
// (<name>/data.pkl and <name>/data/<key>) and the legacy format of older PyTorch (a magic number,
// three small pickles, the object's pickle, the storage keys, then the raw storages). The object is
// unpickled by the restricted unpickler (unpickler.h); its tensors are copied out of the file.
#pragma once
#include <string>

#include "serialization/pickle_value.h"

namespace dsvd::serialization {

struct TorchFile {
  ValuePtr object;
  std::string format;  // "zip" or "legacy"
};

// Reads `path`; an error names the file and what is wrong with it.
TorchFile load_torch_file(const std::string& path);
// The same from bytes already read; `what` names them in messages.
TorchFile parse_torch_file(std::shared_ptr<const std::string> bytes, const std::string& what);
// Whether the bytes start like a torch.save file (zip or legacy).
bool looks_like_torch_file(const std::string& bytes);

}  // namespace dsvd::serialization
