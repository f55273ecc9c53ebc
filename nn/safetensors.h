// The safetensors format (huggingface/safetensors): an 8-byte little-endian header length N, a
// JSON header of N bytes {"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]},
// ..., "__metadata__": {"key": "value"}}, then the raw little-endian data, offsets relative to its
// start. dsvd reads and writes F32, F64, I64 and U8.
//
// Reading enforces what the format forbids, each with an error naming the file and the entry:
// a header length beyond the file or over 100 MB, malformed JSON, duplicate names, unknown
// dtypes, negative or overflowing shapes, byte sizes that do not match shape × dtype, offsets
// out of range, overlapping, unordered, or leaving holes in the data.
#pragma once
#include <map>
#include <string>

#include "nn/module.h"

namespace dsvd::nn {

struct SafetensorsFile {
  NamedTensors tensors;                        // in file order
  std::map<std::string, std::string> metadata;  // "__metadata__"
};

// Writes atomically: a temporary file in the same folder, fsync, rename over `path`. A failure
// (e.g. a full disk) throws and leaves any previous file at `path` intact.
void save_safetensors(const std::string& path, const NamedTensors& tensors,
                      const std::map<std::string, std::string>& metadata = {});
SafetensorsFile load_safetensors(const std::string& path);
SafetensorsFile parse_safetensors(const std::string& bytes, const std::string& name);

// Model weights with torchvision's names. Loading checks every name, shape and dtype and names the
// first missing, unexpected or mismatched tensor; the model is changed only if all of them fit.
void save_weights(const std::string& path, const Module& model, const std::map<std::string, std::string>& metadata = {});
void load_weights(const std::string& path, Module& model);
void load_weights(const SafetensorsFile& file, const std::string& name, Module& model);

}  // namespace dsvd::nn
