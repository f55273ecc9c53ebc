// train_imagenet's options: what a PyTorch ImageNet-example user expects, the recipes of
// docs/models-and-training.md §5, and the built-in default run (Fashion-MNIST, small ResNet-18 with the
// SVD-Padé head). parse_train_options validates everything before any work starts.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "autograd/audit.h"

#include "nn/models/model_options.h"

namespace dsvd::train {

struct TrainOptions {
  // data
  std::string data;                       // ImageFolder root with train/ and val/
  std::string dataset = "fashion-mnist";  // used when data is empty
  std::string fashion_root;               // default: the Debian package's folder
  int64_t image_size = 224;               // ImageFolder crop size (val: resize to size·256/224)
  // ImageFolder pipelines: imagenet (random-resized crop; val resize + centre crop), or the
  // fine-grained benchmarks' cub | cars | aircraft (datasets/transforms.h fgvc_transform).
  std::string transform = "imagenet";
  int workers = 2;
  // model
  std::string arch = "resnet18";
  nn::ModelOptions model;
  // optimisation
  int64_t epochs = 2;
  int64_t batch_size = 128;
  double lr = 0.1;
  std::string lr_schedule = "cosine";  // constant | step:N[:G] | multistep:A,B[:G] | cosine (per step, over the epochs)
  int64_t warmup_epochs = 0;
  double momentum = 0.9;
  double weight_decay = 5e-4;
  bool no_bn_weight_decay = false;
  double clip_grad = 0;  // 0: off; the DSVD recipe uses 5
  double label_smoothing = 0;
  uint64_t seed = 0;
  // run
  std::string device = "cpu";
  // Mixed precision (docs/mixed-precision.md): off | bf16 | fp16. fp16 adds dynamic loss scaling.
  std::string amp = "off";
  bool cuda_graph = false;  // each step recorded once and replayed (apps/train_imagenet/step_graphs.h)
  bool channels_last = false;  // images (and so activations) channels-last, where the kernels take it (docs/gpu.md)
  std::string tf32 = "conv";  // where float32 math may use TF32 on the GPU: conv (PyTorch's default) | all | none
  int64_t print_freq = 50;
  std::string resume;
  bool evaluate = false;
  // fine-tuning (the reference's FGVC protocol)
  std::string pretrained;        // weights to start from (safetensors or torch.save, by content)
  double classifier_factor = 1;  // the classifier's learning rate is lr · factor
  int64_t freeze_layer = 0;      // the first K children of the feature extractor are frozen
  // data parallelism (under mpirun; docs/distributed.md)
  double dist_timeout = 300;     // seconds a collective may wait for the other ranks
  bool sync_bn = false;          // batch-norm statistics over the global batch
  std::string repair_scope = "global";  // the head's overflow repairs: global batch or each rank's
  std::string out = "runs/default";
  int64_t max_steps = 0;  // stop after this many training steps (0: no limit); for tests and smoke runs
  int64_t val_limit = 0;  // validate on the first N images only (0: all of them)
  bool no_eval = false;   // no validation pass at all (metrics rows leave the val columns empty)
  bool audit_eval = false;  // also audit the validation passes
  // audit mode (docs/auditing.md)
  bool audit_trace = false;
  bool audit_stop_on_nonfinite = false;
  std::vector<std::string> audit_ops;
  std::string audit_module;
  int64_t audit_first_step = 0, audit_last_step = -1;  // -1: no end
  int64_t audit_every = 1;
  std::vector<std::string> dump_modules;
  std::vector<int64_t> dump_steps;
  bool deterministic = false;
  std::string recipe;
};

// Parses argv (after the program name). Throws dsvd::Error with one line for a bad option.
TrainOptions parse_train_options(int argc, char** argv, bool* help);
const char* train_usage();

}  // namespace dsvd::train
