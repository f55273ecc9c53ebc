// Model weights from any file a user brings, recognised by content (not by extension):
// safetensors (dsvd's own checkpoints) or torch.save (.pth, .pth.tar; zip or legacy format).
//
// A torch.save file may hold the state dict itself or a checkpoint around it ("state_dict",
// "model" or "module"); its names are mapped onto dsvd's (which are torchvision's):
//   torchvision               conv1.weight, layer1.0.bn1.running_mean, fc.bias  (as they are)
//   DistributedDataParallel   module.<name>                                      ("module." dropped)
//   the reference project     features.module.N.<...>, representation.<...>, classifier.<...>: the
//                             backbone wrapped in DataParallel; for a ResNet N = 0, 1, 4..7 are
//                             conv1, bn1, layer1..layer4 and `classifier` is fc; for AlexNet
//                             features.N and classifier.N keep their numbers.
// A missing num_batches_tracked is filled with 0, as PyTorch does; any other tensor the model
// needs and the file lacks, or has with another shape, is an error naming it (with `fine_tune`,
// a tensor of another shape keeps the model's fresh initialisation instead, and is named).
// Tensors of a torch.save file that the model does not have are reported as unused; in a
// safetensors file (weights only) they are an error naming the first.
#pragma once
#include <string>
#include <vector>

#include "nn/module.h"
#include "serialization/pickle_value.h"

namespace dsvd::nn {

struct WeightsFile {
  std::string format;  // "safetensors", "torch.save zip", "torch.save legacy"
  std::string layout;  // "torchvision", "DistributedDataParallel", "reference (features.module.N)", "dsvd"
  NamedTensors tensors;                  // under dsvd's names, in file order
  serialization::ValuePtr checkpoint;    // torch.save: the whole object (epoch, optimizer, ...)
  std::vector<std::string> original_names;  // parallel to `tensors`: the names in the file
};

// A train_imagenet checkpoint (safetensors with metadata format "dsvd-checkpoint-1") holds the
// training state beside the weights, under these prefixes: SGD's momentum buffers and float16's
// loss scaler. Reading it as weights (predict, --pretrained) leaves them out.
inline constexpr const char* kCheckpointFormat = "dsvd-checkpoint-1";
inline constexpr const char* kOptimizerStatePrefix = "optimizer.";
inline constexpr const char* kGradScalerStatePrefix = "grad_scaler.";
bool is_training_state_name(const std::string& name);

// Reads `path` and maps its names for `model` (which decides the ResNet/AlexNet mapping).
WeightsFile read_weights_file(const std::string& path, const Module& model);
bool is_torch_save_file(const std::string& path);

struct WeightsLoadSummary {
  std::string path, format, layout;
  int64_t loaded = 0;
  std::vector<std::string> filled, reinitialised, unused;
  // "loaded 62 tensors from r18.pth (torch.save zip, torchvision layout); filled 20
  // num_batches_tracked with 0; unused: none"
  std::string line() const;
};

WeightsLoadSummary load_weights_into(const WeightsFile& file, const std::string& path, Module& model,
                                     bool fine_tune = false);
WeightsLoadSummary load_weights_file(const std::string& path, Module& model, bool fine_tune = false);

}  // namespace dsvd::nn
