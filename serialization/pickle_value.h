// What the restricted unpickler (unpickler.h) builds: a tree of Python values of the few kinds a
// torch.save checkpoint holds. Containers are shared (a pickle may reference one object twice)
// but never cyclic, and at most kMaxDepth deep: the unpickler enforces both.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "tensor/tensor.h"

namespace dsvd::serialization {

// The element types of PyTorch's storages that dsvd reads (others are refused by name).
enum class StorageType { Float32, Float64, Float16, BFloat16, Int64, Int32, Int16, Int8, UInt8, Bool };
int64_t storage_element_size(StorageType type);
const char* storage_type_name(StorageType type);  // "FloatStorage", ...
// "FloatStorage" -> Float32, ...; nullopt for a name that is not a storage type dsvd reads.
std::optional<StorageType> storage_type_from_name(const std::string& name);

// Raw little-endian elements of one storage, viewed in the file's bytes (kept alive by `owner`).
struct Storage {
  StorageType type = StorageType::Float32;
  int64_t numel = 0;
  const unsigned char* data = nullptr;
  std::shared_ptr<const std::string> owner;
};

struct Value;
using ValuePtr = std::shared_ptr<Value>;

struct Value {
  static constexpr int kMaxDepth = 64;
  enum class Kind { None, Bool, Int, Float, String, Bytes, List, Tuple, Dict, Tensor, Global, Storage };
  Kind kind = Kind::None;
  bool boolean = false;
  int64_t integer = 0;
  double number = 0;
  std::string text;                                     // String, Bytes; Global: "module.name"
  std::vector<ValuePtr> items;                          // List, Tuple
  std::vector<std::pair<ValuePtr, ValuePtr>> entries;   // Dict, in insertion order
  Tensor tensor;                                        // Tensor
  std::shared_ptr<const serialization::Storage> storage;  // Storage (a persistent id's result)
  std::string storage_key;                              // Storage: the file's key for it
  // The unpickler's bookkeeping: nesting depth, a container fetched from the memo is never
  // changed again (that is what keeps the tree acyclic), and the index of dict keys.
  int depth = 1;
  bool frozen = false;
  std::map<std::string, size_t> key_index;

  bool is(Kind k) const { return kind == k; }
  // Dict lookup by string key (nullptr when absent or not a dict).
  const Value* find(const std::string& key) const;
  // "int", "str", "dict", ... for messages.
  const char* kind_name() const;
};

ValuePtr make_value(Value::Kind kind);
ValuePtr make_string(const std::string& s);
ValuePtr make_int(int64_t v);

}  // namespace dsvd::serialization
