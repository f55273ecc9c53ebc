// The zip container of torch.save (PyTorch >= 1.6): a reader of stored (uncompressed) entries,
// zip64 included, over bytes already in memory. Every offset and size is checked against the
// input, and each entry's CRC-32 is verified. Compressed entries are refused by name (torch.save
// never compresses).
#pragma once
#include <cstdint>
#include <map>
#include <string>

namespace dsvd::serialization {

struct ZipEntry {
  uint64_t offset = 0;  // of the entry's data in the input
  uint64_t size = 0;
};

// name -> entry; `what` names the input in messages.
std::map<std::string, ZipEntry> read_zip_directory(const std::string& bytes, const std::string& what);

bool looks_like_zip(const std::string& bytes);

}  // namespace dsvd::serialization
