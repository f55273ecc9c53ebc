#include "serialization/pickle_value.h"

namespace dsvd::serialization {
namespace {

struct StorageTypeInfo {
  StorageType type;
  const char* name;
  int64_t size;
};
constexpr StorageTypeInfo kStorageTypes[] = {
    {StorageType::Float32, "FloatStorage", 4}, {StorageType::Float64, "DoubleStorage", 8},
    {StorageType::Float16, "HalfStorage", 2},  {StorageType::BFloat16, "BFloat16Storage", 2},
    {StorageType::Int64, "LongStorage", 8},    {StorageType::Int32, "IntStorage", 4},
    {StorageType::Int16, "ShortStorage", 2},   {StorageType::Int8, "CharStorage", 1},
    {StorageType::UInt8, "ByteStorage", 1},    {StorageType::Bool, "BoolStorage", 1},
};

}  // namespace

int64_t storage_element_size(StorageType type) {
  for (const auto& t : kStorageTypes)
    if (t.type == type) return t.size;
  return 1;
}

const char* storage_type_name(StorageType type) {
  for (const auto& t : kStorageTypes)
    if (t.type == type) return t.name;
  return "?";
}

std::optional<StorageType> storage_type_from_name(const std::string& name) {
  for (const auto& t : kStorageTypes)
    if (name == t.name) return t.type;
  return std::nullopt;
}

const Value* Value::find(const std::string& key) const {
  if (kind != Kind::Dict) return nullptr;
  auto it = key_index.find("s" + key);
  return it == key_index.end() ? nullptr : entries[it->second].second.get();
}

const char* Value::kind_name() const {
  switch (kind) {
    case Kind::None: return "None";
    case Kind::Bool: return "bool";
    case Kind::Int: return "int";
    case Kind::Float: return "float";
    case Kind::String: return "str";
    case Kind::Bytes: return "bytes";
    case Kind::List: return "list";
    case Kind::Tuple: return "tuple";
    case Kind::Dict: return "dict";
    case Kind::Tensor: return "tensor";
    case Kind::Global: return "global";
    case Kind::Storage: return "storage";
  }
  return "?";
}

ValuePtr make_value(Value::Kind kind) {
  auto v = std::make_shared<Value>();
  v->kind = kind;
  return v;
}

ValuePtr make_string(const std::string& s) {
  auto v = make_value(Value::Kind::String);
  v->text = s;
  return v;
}

ValuePtr make_int(int64_t i) {
  auto v = make_value(Value::Kind::Int);
  v->integer = i;
  return v;
}

}  // namespace dsvd::serialization
