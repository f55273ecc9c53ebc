#include "serialization/torch_file.h"

#include <fstream>
#include <sstream>

#include "serialization/unpickler.h"
#include "serialization/zip_reader.h"
#include "tensor/error.h"

namespace dsvd::serialization {
namespace {

// PROTO 2, LONG1 of 10 bytes holding 0x1950a86a20f9469cfc6c (torch's magic number), STOP.
const std::string kLegacyMagic("\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19\x2e", 15);

struct StorageId {
  StorageType type;
  std::string key;
  int64_t numel;
  const Value* view;  // legacy only: (view_key, offset, size) or None
};

// ('storage', torch.<Type>Storage, key, location, numel[, view_metadata]).
StorageId parse_storage_id(const Value& pid, size_t expected_fields, const std::string& what) {
  DSVD_CHECK(pid.kind == Value::Kind::Tuple && pid.items.size() == expected_fields, what,
             ": a persistent id that is not a storage tuple of ", expected_fields, " fields");
  const auto& f = pid.items;
  DSVD_CHECK(f[0]->kind == Value::Kind::String && f[0]->text == "storage", what, ": a persistent id of kind '",
             f[0]->text, "' (only 'storage')");
  DSVD_CHECK(f[1]->kind == Value::Kind::Global && f[1]->text.rfind("torch.", 0) == 0, what,
             ": a storage without a storage type");
  auto type = storage_type_from_name(f[1]->text.substr(6));
  DSVD_CHECK(type.has_value(), what, ": storage type '", f[1]->text, "' is not read");
  DSVD_CHECK(f[2]->kind == Value::Kind::String && f[2]->text.size() <= 64, what, ": a storage key that is not a string");
  DSVD_CHECK(f[4]->kind == Value::Kind::Int && f[4]->integer >= 0, what, ": storage '", f[2]->text,
             "' has no valid element count");
  return {*type, f[2]->text, f[4]->integer, expected_fields == 6 ? f[5].get() : nullptr};
}

ValuePtr storage_value(std::shared_ptr<const Storage> s, const std::string& key) {
  ValuePtr v = make_value(Value::Kind::Storage);
  v->storage = std::move(s);
  v->storage_key = key;
  return v;
}

TorchFile parse_zip(std::shared_ptr<const std::string> bytes, const std::string& what) {
  const std::string& in = *bytes;
  const auto entries = read_zip_directory(in, what);
  std::string prefix;
  for (const auto& [name, entry] : entries) {
    const size_t slash = name.find('/');
    if (slash != std::string::npos && name.substr(slash) == "/data.pkl") prefix = name.substr(0, slash + 1);
  }
  DSVD_CHECK(!prefix.empty(), what, ": a zip file without <name>/data.pkl (not written by torch.save)");
  if (auto it = entries.find(prefix + "byteorder"); it != entries.end())
    DSVD_CHECK(in.compare(size_t(it->second.offset), size_t(it->second.size), "little") == 0, what,
               ": big-endian storages are not read");
  const ZipEntry& pickle = entries.at(prefix + "data.pkl");
  std::map<std::string, std::shared_ptr<const Storage>> storages;  // shared storages are read once
  PersistentLoad load = [&](const Value& pid) {
    const StorageId id = parse_storage_id(pid, 5, what);
    auto& s = storages[id.key];
    if (!s) {
      auto it = entries.find(prefix + "data/" + id.key);
      DSVD_CHECK(it != entries.end(), what, ": storage '", id.key, "' has no entry data/", id.key);
      const int64_t size = storage_element_size(id.type);
      DSVD_CHECK(uint64_t(id.numel) <= it->second.size / uint64_t(size), what, ": storage '", id.key, "' claims ",
                 id.numel, " elements of ", size, " bytes but its entry holds ", it->second.size, " bytes");
      s = std::make_shared<Storage>(
          Storage{id.type, id.numel, reinterpret_cast<const unsigned char*>(in.data()) + it->second.offset, bytes});
    }
    DSVD_CHECK(s->type == id.type, what, ": storage '", id.key, "' is read as two different types");
    return storage_value(s, id.key);
  };
  // The pickle is parsed from a copy of its entry, so that its bounds are the entry's.
  const std::string pickle_bytes = in.substr(size_t(pickle.offset), size_t(pickle.size));
  return {unpickle(pickle_bytes, 0, what + ": data.pkl", load).value, "zip"};
}

TorchFile parse_legacy(std::shared_ptr<const std::string> bytes, const std::string& what) {
  const std::string& in = *bytes;
  size_t at = kLegacyMagic.size();
  const auto version = unpickle(in, at, what + ": protocol version", nullptr);
  DSVD_CHECK(version.value->kind == Value::Kind::Int && version.value->integer == 1001, what,
             ": legacy protocol version is not 1001");
  at += version.consumed;
  const auto info = unpickle(in, at, what + ": system info", nullptr);
  const Value* little = info.value->find("little_endian");
  DSVD_CHECK(little && little->kind == Value::Kind::Bool && little->boolean, what, ": not a little-endian file");
  at += info.consumed;
  // First pass: the object's storage ids, in the order of the file (its data comes after it).
  std::map<std::string, StorageId> ids;
  PersistentLoad collect = [&](const Value& pid) {
    const StorageId id = parse_storage_id(pid, 6, what);
    ids.emplace(id.key, id);
    return storage_value(std::make_shared<Storage>(Storage{id.type, id.numel, nullptr, nullptr}), id.key);
  };
  const size_t object_at = at;
  at += unpickle(in, at, what + ": object", collect).consumed;
  const auto keys = unpickle(in, at, what + ": storage keys", nullptr);
  DSVD_CHECK(keys.value->kind == Value::Kind::List, what, ": the storage keys are not a list");
  at += keys.consumed;
  std::map<std::string, std::shared_ptr<const Storage>> storages;
  for (const auto& key : keys.value->items) {
    DSVD_CHECK(key->kind == Value::Kind::String, what, ": a storage key that is not a string");
    auto id = ids.find(key->text);
    DSVD_CHECK(id != ids.end(), what, ": storage '", key->text, "' is stored but never used");
    DSVD_CHECK(at + 8 <= in.size(), what, ": storage '", key->text, "' is cut off (file truncated)");
    int64_t numel = 0;
    for (int i = 0; i < 8; ++i) numel |= int64_t(static_cast<unsigned char>(in[at + size_t(i)])) << (8 * i);
    at += 8;
    const int64_t size = storage_element_size(id->second.type);
    DSVD_CHECK(numel >= 0 && uint64_t(numel) <= (in.size() - at) / uint64_t(size), what, ": storage '", key->text,
               "' claims ", numel, " elements, past the end of the file");
    storages[key->text] = std::make_shared<Storage>(
        Storage{id->second.type, numel, reinterpret_cast<const unsigned char*>(in.data()) + at, bytes});
    at += size_t(numel * size);
  }
  PersistentLoad load = [&](const Value& pid) {
    const StorageId id = parse_storage_id(pid, 6, what);
    auto it = storages.find(id.key);
    DSVD_CHECK(it != storages.end(), what, ": storage '", id.key, "' is used but not stored");
    std::shared_ptr<const Storage> s = it->second;
    DSVD_CHECK(s->type == id.type, what, ": storage '", id.key, "' is read as two different types");
    if (id.view && id.view->kind != Value::Kind::None) {  // an old view: (view_key, offset, size)
      const Value& v = *id.view;
      DSVD_CHECK(v.kind == Value::Kind::Tuple && v.items.size() == 3 && v.items[1]->kind == Value::Kind::Int &&
                     v.items[2]->kind == Value::Kind::Int && v.items[1]->integer >= 0 && v.items[2]->integer >= 0 &&
                     v.items[1]->integer <= s->numel && v.items[2]->integer <= s->numel - v.items[1]->integer,
                 what, ": storage view of '", id.key, "' lies outside it");
      s = std::make_shared<Storage>(Storage{s->type, v.items[2]->integer,
                                            s->data + v.items[1]->integer * storage_element_size(s->type), bytes});
    }
    DSVD_CHECK(id.numel <= s->numel, what, ": storage '", id.key, "' holds ", s->numel, " elements, not ", id.numel);
    return storage_value(s, id.key);
  };
  return {unpickle(in, object_at, what + ": object", load).value, "legacy"};
}

}  // namespace

bool looks_like_torch_file(const std::string& bytes) {
  return looks_like_zip(bytes) || bytes.compare(0, kLegacyMagic.size(), kLegacyMagic) == 0;
}

TorchFile parse_torch_file(std::shared_ptr<const std::string> bytes, const std::string& what) {
  if (looks_like_zip(*bytes)) return parse_zip(std::move(bytes), what);
  if (bytes->compare(0, kLegacyMagic.size(), kLegacyMagic) == 0) return parse_legacy(std::move(bytes), what);
  fail(what, ": not a torch.save file (neither the zip container nor the legacy format)");
}

TorchFile load_torch_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  DSVD_CHECK(in.good(), "cannot open '", path, "'");
  std::ostringstream buffer;
  buffer << in.rdbuf();
  return parse_torch_file(std::make_shared<const std::string>(buffer.str()), path);
}

}  // namespace dsvd::serialization
