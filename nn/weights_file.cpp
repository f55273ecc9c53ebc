#include "nn/weights_file.h"

#include <algorithm>
#include <fstream>
#include <map>

#include "nn/safetensors.h"
#include "serialization/torch_file.h"

namespace dsvd::nn {
namespace {

using serialization::Value;

bool starts_with(const std::string& s, const std::string& prefix) { return s.rfind(prefix, 0) == 0; }

std::string head_bytes(const std::string& path, size_t n) {
  std::ifstream in(path, std::ios::binary);
  DSVD_CHECK(in.good(), "cannot open weights file '", path, "'");
  std::string s(n, '\0');
  in.read(s.data(), std::streamsize(n));
  s.resize(size_t(in.gcount()));
  return s;
}

// The state dict inside a torch.save object: the object itself, or its "state_dict", "model" or
// "module" entry.
const Value& find_state_dict(const Value& top, const std::string& path) {
  DSVD_CHECK(top.kind == Value::Kind::Dict, path, ": holds a ", top.kind_name(), ", not a state dict");
  for (const char* key : {"state_dict", "model", "module"})
    if (const Value* inner = top.find(key); inner && inner->kind == Value::Kind::Dict) return *inner;
  std::string keys;
  for (const auto& [k, v] : top.entries) {
    if (v->kind == Value::Kind::Tensor) continue;
    keys += (keys.empty() ? "" : ", ") + (k->kind == Value::Kind::String ? k->text : std::string(k->kind_name()));
  }
  DSVD_CHECK(keys.empty(), path, ": no state dict found: the file holds non-tensor entries (", keys,
             ") and no 'state_dict', 'model' or 'module'");
  return top;
}

bool has_name(const Module& model, const std::string& name) {
  for (const auto& [n, t] : model.state_dict())
    if (n == name) return true;
  return false;
}

}  // namespace

bool is_training_state_name(const std::string& name) {
  return starts_with(name, kOptimizerStatePrefix) || starts_with(name, kGradScalerStatePrefix);
}

bool is_torch_save_file(const std::string& path) { return serialization::looks_like_torch_file(head_bytes(path, 16)); }

WeightsFile read_weights_file(const std::string& path, const Module& model) {
  WeightsFile out;
  if (!is_torch_save_file(path)) {
    SafetensorsFile st = load_safetensors(path);  // refuses anything that is not safetensors, naming the file
    out.format = "safetensors";
    const auto format = st.metadata.find("format");
    const bool checkpoint = format != st.metadata.end() && format->second == kCheckpointFormat;
    out.layout = checkpoint ? "dsvd training checkpoint (its optimizer state left out)" : "dsvd";
    for (const auto& [n, t] : st.tensors) {
      if (checkpoint && is_training_state_name(n)) continue;
      out.tensors.emplace_back(n, t);
      out.original_names.push_back(n);
    }
    return out;
  }
  serialization::TorchFile tf = serialization::load_torch_file(path);
  out.format = "torch.save " + tf.format;
  out.checkpoint = tf.object;
  const Value& dict = find_state_dict(*tf.object, path);
  std::vector<std::string> names;
  for (const auto& [k, v] : dict.entries) {
    DSVD_CHECK(k->kind == Value::Kind::String, path, ": a state dict key that is not a string");
    DSVD_CHECK(v->kind == Value::Kind::Tensor, path, ": state dict entry '", k->text, "' is a ", v->kind_name(),
               ", not a tensor");
    names.push_back(k->text);
  }
  std::vector<std::string> mapped = names;
  out.layout = "torchvision";
  if (!mapped.empty() && std::all_of(mapped.begin(), mapped.end(), [](auto& n) { return starts_with(n, "module."); })) {
    for (auto& n : mapped) n = n.substr(7);
    out.layout = "DistributedDataParallel";
  }
  if (std::any_of(mapped.begin(), mapped.end(), [](auto& n) { return starts_with(n, "features.module."); })) {
    out.layout = "reference (features.module.N)";
    for (auto& n : mapped)
      if (starts_with(n, "features.module.")) n = "features." + n.substr(16);
  }
  // The reference's ResNet: features = children()[:-2] of a torchvision ResNet, classifier = fc.
  if (has_name(model, "fc.weight") && std::any_of(mapped.begin(), mapped.end(), [](auto& n) { return starts_with(n, "features."); })) {
    static const std::map<std::string, std::string> kChildren = {{"0", "conv1"},  {"1", "bn1"},    {"4", "layer1"},
                                                                 {"5", "layer2"}, {"6", "layer3"}, {"7", "layer4"}};
    if (out.layout == "torchvision") out.layout = "reference (features.N)";
    for (auto& n : mapped) {
      if (starts_with(n, "features.")) {
        const size_t dot = n.find('.', 9);
        auto it = kChildren.find(n.substr(9, dot == std::string::npos ? std::string::npos : dot - 9));
        DSVD_CHECK(it != kChildren.end() && dot != std::string::npos, path, ": '", n,
                   "' is not a ResNet child the reference's features hold (0, 1, 4..7)");
        n = it->second + n.substr(dot);
      } else if (starts_with(n, "classifier.")) {
        n = "fc." + n.substr(11);
      }
    }
  }
  for (size_t i = 0; i < names.size(); ++i) {
    out.tensors.emplace_back(mapped[i], dict.entries[i].second->tensor);
    out.original_names.push_back(names[i]);
  }
  return out;
}

std::string WeightsLoadSummary::line() const {
  auto list = [](const std::vector<std::string>& v) {
    if (v.empty()) return std::string("none");
    std::string s;
    for (size_t i = 0; i < v.size() && i < 8; ++i) s += (i ? ", " : "") + v[i];
    if (v.size() > 8) s += ", ... (" + std::to_string(v.size()) + " in all)";
    return s;
  };
  std::string s = "loaded " + std::to_string(loaded) + " tensors from " + path + " (" + format + ", " + layout + " layout)";
  if (!filled.empty()) s += "; filled " + std::to_string(filled.size()) + " num_batches_tracked with 0";
  if (!reinitialised.empty()) s += "; re-initialised (shape differs): " + list(reinitialised);
  s += "; unused: " + list(unused);
  return s;
}

WeightsLoadSummary load_weights_into(const WeightsFile& file, const std::string& path, Module& model, bool fine_tune) {
  WeightsLoadSummary summary{path, file.format, file.layout};
  std::map<std::string, size_t> index;
  for (size_t i = 0; i < file.tensors.size(); ++i) {
    DSVD_CHECK(index.emplace(file.tensors[i].first, i).second, path, ": two tensors map to '", file.tensors[i].first,
               "' (", file.original_names[i], ")");
  }
  NamedTensors to_load;
  std::map<std::string, bool> used;
  for (const auto& [name, expected] : model.state_dict()) {
    auto it = index.find(name);
    if (it == index.end()) {
      const std::string suffix = "num_batches_tracked";
      const bool counter = name.size() >= suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0;
      DSVD_CHECK(counter, path, ": missing tensor '", name, "' that the model needs (", shape_str(expected.sizes()),
                 ")");
      to_load.emplace_back(name, zeros(expected.sizes(), expected.dtype()));
      summary.filled.push_back(name);
      continue;
    }
    used[name] = true;
    const auto& [file_name, t] = file.tensors[it->second];
    const std::string& original = file.original_names[it->second];
    const std::string shown = original == name ? "'" + name + "'" : "'" + original + "' (" + name + ")";
    if (t.sizes() != expected.sizes()) {
      DSVD_CHECK(fine_tune, path, ": tensor ", shown, " has shape ", shape_str(t.sizes()), ", the model expects ",
                 shape_str(expected.sizes()));
      summary.reinitialised.push_back(name);
      continue;
    }
    to_load.emplace_back(name, t.dtype() == expected.dtype() ? t : t.to(expected.dtype()));
  }
  for (size_t i = 0; i < file.tensors.size(); ++i)
    if (!used.count(file.tensors[i].first)) summary.unused.push_back(file.original_names[i]);
  // Everything checked: only now is the model changed.
  for (const auto& [name, t] : to_load) model.load_tensor(name, t);
  summary.loaded = int64_t(to_load.size() - summary.filled.size());
  return summary;
}

WeightsLoadSummary load_weights_file(const std::string& path, Module& model, bool fine_tune) {
  WeightsFile file = read_weights_file(path, model);
  if (file.format == "safetensors" && !fine_tune) {
    // A safetensors file holds weights only: a tensor the model lacks means another architecture
    // or head, and is refused (before anything is loaded).
    std::map<std::string, bool> known;
    for (const auto& [name, t] : model.state_dict()) known[name] = true;
    for (const auto& [name, t] : file.tensors)
      DSVD_CHECK(known.count(name), path, ": unexpected tensor '", name,
                 "' that the model does not have (another architecture or head?)");
  }
  return load_weights_into(file, path, model, fine_tune);
}

}  // namespace dsvd::nn
