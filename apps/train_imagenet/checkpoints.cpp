// The Trainer's checkpoints (trainer.h): its own safetensors checkpoint written and resumed (weights,
// SGD momentum, the loss scaler, where the run stands), and weights from elsewhere — a pretrained
// file to fine-tune with frozen layers, or a PyTorch checkpoint of the reference project to resume.
#include <algorithm>
#include <cstdio>
#include <filesystem>

#include "apps/train_imagenet/trainer.h"
#include "nn/optim/torch_sgd_state.h"
#include "nn/safetensors.h"
#include "nn/weights_file.h"

namespace dsvd::train {
namespace fs = std::filesystem;

namespace {

constexpr const char* kOptimizerPrefix = nn::kOptimizerStatePrefix;
constexpr const char* kScalerPrefix = nn::kGradScalerStatePrefix;  // GradScaler::state()'s names

}  // namespace

void Trainer::prepare_fine_tuning() {
  if (!o_.pretrained.empty()) {
    nn::WeightsLoadSummary s = nn::load_weights_file(o_.pretrained, *model_, /*fine_tune=*/true);
    std::printf("pretrained: %s\n", s.line().c_str());
  }
  if (o_.freeze_layer > 0) {
    // The reference freezes the first K children of `features`: for a ResNet those are conv1, bn1,
    // relu, maxpool, layer1..layer4 (dsvd's ReLU is not a module, its max-pool has no parameters).
    static const char* const kResNetChildren[] = {"conv1.", "bn1.", "", "", "layer1.", "layer2.", "layer3.", "layer4."};
    std::vector<std::string> prefixes;
    for (int64_t k = 0; k < o_.freeze_layer; ++k) {
      if (o_.arch == "alexnet") {
        prefixes.push_back("features." + std::to_string(k) + ".");
      } else {
        DSVD_CHECK(k < 8, "--freeze-layer ", o_.freeze_layer, ": a ResNet's feature extractor has 8 children");
        if (*kResNetChildren[k]) prefixes.push_back(kResNetChildren[k]);
      }
    }
    int64_t frozen = 0;
    for (auto& [name, p] : model_->named_parameters())
      for (const auto& prefix : prefixes)
        if (name.rfind(prefix, 0) == 0) {
          p.requires_grad_(false);
          ++frozen;
        }
    std::printf("frozen: the first %lld children of the feature extractor (%lld parameter tensors)\n",
                (long long)o_.freeze_layer, (long long)frozen);
  }
}

void Trainer::load_torch_checkpoint(const std::string& path) {
  using serialization::Value;
  nn::WeightsFile file = nn::read_weights_file(path, *model_);
  nn::WeightsLoadSummary s = nn::load_weights_into(file, path, *model_);
  const int64_t momentum = optimizer_->load_matching_state(nn::sgd_state_from_torch(file, path));
  const Value* epoch = file.checkpoint->find("epoch");
  const Value* best = file.checkpoint->find("best_prec1");
  if (epoch && epoch->kind == Value::Kind::Int) start_epoch_ = epoch->integer;  // the reference saves the next epoch
  if (best && best->kind == Value::Kind::Float) best_top1_ = best->number;
  if (best && best->kind == Value::Kind::Tensor && best->tensor.numel() == 1) best_top1_ = best->tensor.item();
  step_from_epoch_ = true;
  std::printf("resume: %s\nresume: %lld momentum buffers; epoch %lld, best top-1 %.2f%% (a PyTorch checkpoint: the "
              "step count and the data order start afresh at that epoch)\n",
              s.line().c_str(), (long long)momentum, (long long)start_epoch_, best_top1_);
}

std::string Trainer::checkpoint_path() const { return (fs::path(o_.out) / "checkpoint.safetensors").string(); }
std::string Trainer::best_path() const { return (fs::path(o_.out) / "model_best.safetensors").string(); }

void Trainer::save_checkpoint(const std::string& path, int64_t epoch, size_t batch, size_t examples) {
  nn::NamedTensors tensors = model_->state_dict();
  for (auto& [name, t] : optimizer_->state()) tensors.emplace_back(kOptimizerPrefix + name, t);
  if (scaler_)
    for (auto& [name, t] : scaler_->state()) tensors.emplace_back(name, t);
  std::map<std::string, std::string> meta = {
      {"format", nn::kCheckpointFormat},
      {"arch", o_.arch},
      {"head", o_.model.head},
      {"epoch", std::to_string(epoch)},
      {"batch", std::to_string(batch)},
      {"examples", std::to_string(examples)},
      {"ranks", std::to_string(communicator_->size())},
      {"batch_size", std::to_string(o_.batch_size)},
      {"step", std::to_string(global_step_)},
      {"best_top1", std::to_string(best_top1_)},
      {"seed", std::to_string(o_.seed)},
      {"generator_draws", std::to_string(default_generator().draws())},
      {"num_classes", std::to_string(o_.model.num_classes)},
  };
  nn::save_safetensors(path, tensors, meta);
}

void Trainer::load_checkpoint(const std::string& path) {
  nn::SafetensorsFile file = nn::load_safetensors(path);
  auto meta = [&](const char* key) -> std::string {
    auto it = file.metadata.find(key);
    DSVD_CHECK(it != file.metadata.end(), "--resume: ", path, " is not a dsvd training checkpoint (no '", key,
               "' in its metadata)");
    return it->second;
  };
  DSVD_CHECK(meta("arch") == o_.arch, "--resume: ", path, " is a checkpoint of ", meta("arch"), ", not --arch ", o_.arch);
  const bool same_head = meta("head") == o_.model.head;
  nn::NamedTensors weights, optimizer_state;
  nn::NamedTensors scaler_state;
  for (auto& [name, t] : file.tensors) {
    if (name.rfind(kScalerPrefix, 0) == 0) scaler_state.emplace_back(name, t);
    else if (name.rfind(kOptimizerPrefix, 0) == 0) optimizer_state.emplace_back(name.substr(std::string(kOptimizerPrefix).size()), t);
    else weights.emplace_back(name, t);
  }
  if (same_head) {
    nn::load_weights(nn::SafetensorsFile{weights, {}}, path, *model_);
    optimizer_->load_state(optimizer_state);
  } else {
    // Hybrid training (docs/models-and-training.md §5.2): load what the heads share, keep the rest.
    auto expected = model_->state_dict();
    int64_t loaded = 0, kept = 0;
    for (const auto& [name, t] : expected) {
      auto it = std::find_if(weights.begin(), weights.end(), [&](const auto& e) { return e.first == name; });
      if (it != weights.end() && it->second.sizes() == t.sizes() && it->second.dtype() == t.dtype()) {
        model_->load_tensor(name, it->second);
        ++loaded;
      } else {
        ++kept;
      }
    }
    optimizer_->load_matching_state(optimizer_state);
    std::printf("resume: head %s -> %s (hybrid training): loaded %lld shared tensors, %lld start fresh\n",
                meta("head").c_str(), o_.model.head.c_str(), (long long)loaded, (long long)kept);
  }
  if (scaler_ && !scaler_state.empty()) scaler_->load_state(scaler_state);  // else it starts at 2^16
  start_epoch_ = std::stoll(meta("epoch"));
  start_batch_ = size_t(std::stoll(meta("batch")));
  if (file.metadata.count("examples")) {
    start_examples_ = std::stoll(meta("examples"));
    const int64_t ranks = std::stoll(meta("ranks")), batch_size = std::stoll(meta("batch_size"));
    if (start_examples_ > 0 && (ranks != communicator_->size() || batch_size != o_.batch_size))
      std::printf("resume: the checkpoint was written by %lld rank(s) x --batch-size %lld, this run is %d x %lld: "
                  "epoch %lld goes on after its first %lld examples\n",
                  (long long)ranks, (long long)batch_size, communicator_->size(), (long long)o_.batch_size,
                  (long long)std::stoll(meta("epoch")), (long long)start_examples_);
  }
  global_step_ = std::stoll(meta("step"));
  best_top1_ = std::stod(meta("best_top1"));
  default_generator().set_draws(std::stoull(meta("generator_draws")));
  std::printf("resume: %s at epoch %lld, batch %zu (step %lld)\n", path.c_str(), (long long)start_epoch_, start_batch_,
              (long long)global_step_);
}

}  // namespace dsvd::train
