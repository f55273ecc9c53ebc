#include "nn/optim/torch_sgd_state.h"

namespace dsvd::nn {
namespace {

using serialization::Value;

bool is_buffer(const std::string& name) {
  for (const char* suffix : {"running_mean", "running_var", "num_batches_tracked"}) {
    const std::string s = suffix;
    if (name.size() >= s.size() && name.compare(name.size() - s.size(), s.size(), s) == 0) return true;
  }
  return false;
}

}  // namespace

NamedTensors sgd_state_from_torch(const WeightsFile& file, const std::string& path) {
  DSVD_CHECK(file.checkpoint, path, ": not a torch.save checkpoint");
  const Value* optimizer = file.checkpoint->find("optimizer");
  if (!optimizer) return {};
  const Value* state = optimizer->find("state");
  const Value* groups = optimizer->find("param_groups");
  DSVD_CHECK(state && groups && state->kind == Value::Kind::Dict && groups->kind == Value::Kind::List, path,
             ": 'optimizer' is not torch.optim's state dict (no 'state' and 'param_groups')");
  // The file's parameters (not its buffers), in order, under dsvd's names.
  std::vector<size_t> parameters;
  for (size_t i = 0; i < file.original_names.size(); ++i)
    if (!is_buffer(file.original_names[i])) parameters.push_back(i);
  std::map<int64_t, size_t> index_to_parameter;
  size_t position = 0;
  for (const auto& group : groups->items) {
    const Value* params = group->find("params");
    DSVD_CHECK(params && params->kind == Value::Kind::List, path, ": an optimizer parameter group without 'params'");
    for (const auto& id : params->items) {
      DSVD_CHECK(id->kind == Value::Kind::Int, path, ": an optimizer parameter index that is not an int");
      DSVD_CHECK(position < parameters.size(), path, ": the optimizer lists more parameters (", position + 1,
                 ") than the state dict holds (", parameters.size(), ")");
      index_to_parameter[id->integer] = parameters[position++];
    }
  }
  NamedTensors out;
  for (const auto& [key, entry] : state->entries) {
    DSVD_CHECK(key->kind == Value::Kind::Int, path, ": optimizer state keyed by a ", key->kind_name());
    auto it = index_to_parameter.find(key->integer);
    DSVD_CHECK(it != index_to_parameter.end(), path, ": optimizer state for parameter ", key->integer,
               ", which no parameter group lists");
    const Value* buffer = entry->find("momentum_buffer");
    if (!buffer || buffer->kind != Value::Kind::Tensor) continue;  // None: SGD without momentum
    const auto& [name, tensor] = file.tensors[it->second];
    DSVD_CHECK(buffer->tensor.sizes() == tensor.sizes(), path, ": the momentum buffer of '", file.original_names[it->second],
               "' has shape ", shape_str(buffer->tensor.sizes()), ", the parameter ", shape_str(tensor.sizes()));
    out.emplace_back("momentum_buffer." + name, buffer->tensor);
  }
  return out;
}

}  // namespace dsvd::nn
