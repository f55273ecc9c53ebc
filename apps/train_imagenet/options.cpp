#include "apps/train_imagenet/options.h"

#include "tensor/device_backend.h"

#include <algorithm>
#include <filesystem>
#include <sstream>

#include "apps/audit_cli.h"
#include "apps/cli.h"
#include "apps/model_cli.h"
#include "datasets/idx.h"
#include "nn/optim/lr_schedule.h"

namespace dsvd::train {

const char* train_usage() {
  return R"(train_imagenet: train AlexNet/ResNet with a plain or covariance-pooling head

With no options it trains the built-in default: a small-stem ResNet-18 (width 0.25) with the SVD-Pade
covariance head on Fashion-MNIST, on the CPU, and reports test accuracy.

Data
  --data DIR             ImageFolder with DIR/train/<class>/* and DIR/val/<class>/*
  --dataset NAME         fashion-mnist (default when --data is not given)
  --fashion-root DIR     where the Fashion-MNIST IDX files are (default: the Debian package's folder)
  --image-size N         ImageFolder crop size (default 224; validation resizes to N*256/224 first)
  --transform T          ImageFolder pipeline: imagenet (random-resized crop + flip; default) | cub |
                         cars | aircraft (the fine-grained scripts' resize/centre-crop + flip, at N)
  --workers N            data loading threads (default 2)
Model
  --arch A               alexnet | resnet18 | resnet34 | resnet50 | resnet101 | resnet152
  --head H               gap | isqrt | mtp-lya | mpa-lya | svd-pade | svd-taylor | svd-pi | svd-newton |
                         svd-trunc | svd-topn | svd-original | svd-exact | svd-pi-deflation |
                         seb (the TPAMI'22 fine-grained head: Q + Q·‖Q Sᵀ‖_F, docs/matrix-functions.md §7)
  --head-dim N           the reduction block's width (default 256)
  --last-stride S        ResNet layer4 stride, 2 (DSVD) or 1 (iSQRT-COV)
  --stem standard|small  small: 3x3 stride-1 first conv and no first max-pool (28x28, 32x32 images)
  --width W              channel multiplier
  --num-classes N        classifier width (default: the number of classes in the data)
  --iters N --tol T --degree D --drop K --limit T    the head's rule options (docs/matrix-functions.md)
Optimisation
  --epochs N  -b/--batch-size N  --lr LR  --momentum M  --wd WD  --no-bn-weight-decay
  --lr-schedule S        constant | step:N[:G] | multistep:A,B,..[:G] | cosine (annealed every step
                         to 0 at the end of --epochs; default)
  --warmup-epochs N      linear warm-up
  --clip-grad C          clip the global L2 gradient norm to C (the DSVD recipe: 5)
  --label-smoothing E
  --recipe R             dsvd-alexnet | dsvd-resnet | isqrt-resnet (docs/models-and-training.md §5) |
                         dsvd-fgvc (fine-tuning: ResNet-50, batch 10, lr 3e-3 x0.1 at epochs 50 and
                         100, 200 epochs, wd 1e-4, classifier factor 20, 448 crops, --transform cub) |
                         seb-cub | seb-cars | seb-aircraft (the TPAMI'22 fine-grained rows: ResNet-50,
                         SEB head without reduction block, docs/models-and-training.md §7); explicit
                         options override it
Fine-tuning
  --pretrained PATH      start from these weights (dsvd .safetensors or PyTorch .pth/.pth.tar, by
                         content): everything that matches is loaded; tensors the file lacks or has
                         with another shape (a new classifier, a new head) start fresh and are named
  --classifier-factor F  the classifier's learning rate is lr x F (the reference's option; default 1)
  --freeze-layer K       freeze the parameters of the first K children of the feature extractor, as
                         the reference counts them (ResNet: conv1, bn1, relu, maxpool, layer1..4;
                         AlexNet: features.0, features.1, ...)
Run
  --seed S  --device cpu|cuda  --print-freq N  --out DIR (default runs/default)
  --amp off|bf16|fp16    mixed precision (docs/mixed-precision.md): convolutions and matrix products
                         in the 16-bit dtype with float32 accumulation, float32 weights, optimizer,
                         loss and covariance head; fp16 with dynamic loss scaling (default off)
  --cuda-graph           record each training step once as a CUDA graph and replay it (docs/gpu.md):
                         the host's launch cost goes; falls back to eager steps, saying why, where a
                         step cannot be recorded (data parallelism, the audit)
  --channels-last        images and activations channels-last (NHWC in memory) where the kernels take
                         it: cuDNN's convolutions, batch norm and pooling on a GPU (docs/gpu.md);
                         the CPU's kernels take NCHW, so there it changes nothing but a copy
  --tf32 T               GPU float32 math in TF32: conv (convolutions only, PyTorch's default) |
                         all (also matmul) | none
  --resume PATH          continue from a checkpoint (another --head reuses the shared parameters:
                         the paper's hybrid training); also a PyTorch checkpoint of the reference
                         project (weights, SGD momentum buffers, epoch and best top-1)
  --evaluate             only validate the --resume or --pretrained weights
  --max-steps N          stop after N training steps (then validate, write the metrics row, checkpoint)
  --val-limit N          validate on the first N images only (whole batches; default: all)
  --no-eval              skip validation (metrics rows leave the val columns empty; no model_best)
  --deterministic        bit-reproducible on the CPU whatever the thread count (docs/auditing.md)
Data parallel (docs/distributed.md)
  mpirun -np N train_imagenet ...   N processes, each on its shard of the data with --batch-size
                         images per step; gradients averaged after every backward; rank 0 prints
                         and writes the metrics and the checkpoint
  --sync-bn              batch-norm statistics (forward and backward) over the global batch
  --repair-scope global|local   the covariance head's overflow repairs (Original's +inf -> the batch
                         maximum, Padé's -inf -> the batch minimum) over the global batch, as the
                         reference's head sees it (global, the default), or over each rank's own
  --dist-timeout S       seconds a collective waits for the other ranks before the job ends with
                         an error (default 300)
Audit (docs/auditing.md)
  --audit                trace every op, forward and backward, to OUT/audit/trace.jsonl
  --audit=stop-on-nonfinite   stop at the first op that produces a NaN/Inf, dumping its tensors
  --audit=trace,stop-on-nonfinite
  --audit-ops a,b        only these ops     --audit-module PREFIX   only ops under this module
  --audit-steps A:B      training steps to trace   --audit-every K   every K-th step
  --audit-eval           also audit the validation passes (by default only training is traced,
                         stopped on and dumped; every line says "phase": "train" or "eval")
  --dump MODULE[,MODULE] write the module's input, output, parameters and their gradients as .npy
  --dump-steps a,b       the steps to dump at (default: every traced step)
)";
}

namespace {

// Normalises "-b 64" into "--batch-size 64" before the generic parser sees it.
std::vector<std::string> normalised(int argc, char** argv) {
  std::vector<std::string> args;
  for (int i = 0; i < argc; ++i) {
    std::string a = argv[i];
    args.push_back(a == "-b" ? "--batch-size" : a);
  }
  return args;
}

void apply_recipe(const std::string& recipe, TrainOptions& o) {
  if (recipe.empty()) return;
  if (recipe == "dsvd-alexnet") {
    o.arch = "alexnet";
    o.model.head = "svd-pade";
    o.epochs = 30;
    o.batch_size = 128;
    o.lr = 0.0794;
    o.lr_schedule = "multistep:10,20";
    o.weight_decay = 5e-4;
    o.clip_grad = 5;
  } else if (recipe == "dsvd-resnet") {
    o.arch = "resnet50";
    o.model.head = "svd-pade";
    o.epochs = 60;
    o.batch_size = 256;
    o.lr = 0.0794;
    o.lr_schedule = "multistep:30,45";
    o.weight_decay = 1e-4;
    o.clip_grad = 5;
  } else if (recipe == "isqrt-resnet") {
    o.arch = "resnet50";
    o.model.head = "isqrt";
    o.model.last_stride = 1;
    o.model.head_dtype = DType::Float32;
    o.epochs = 65;
    o.batch_size = 160;
    o.lr = 0.1;
    o.lr_schedule = "multistep:30,45,60";
    o.weight_decay = 1e-4;
    o.clip_grad = 0;
  } else if (recipe == "seb-cub" || recipe == "seb-cars" || recipe == "seb-aircraft") {
    // The TPAMI 2022 fine-grained scripts (docs/models-and-training.md §7): torchvision's ImageNet
    // ResNet-50 fine-tuned with the SEB head on the 2048 channels themselves (no reduction block).
    o.arch = "resnet50";
    o.model.head = "seb";
    o.transform = recipe.substr(4);
    const bool aircraft = recipe == "seb-aircraft";
    o.batch_size = aircraft ? 8 : 10;
    o.epochs = aircraft ? 50 : 200;
    o.lr = 3e-3;
    o.lr_schedule = aircraft ? "multistep:21,40" : "multistep:50,100";
    o.weight_decay = aircraft ? 1e-3 : 1e-4;
    o.clip_grad = 0;
    o.classifier_factor = recipe == "seb-cub" ? 20 : recipe == "seb-cars" ? 10 : 5;
  } else if (recipe == "dsvd-fgvc") {
    // The reference's fine-tuning scripts (FGVC/resnet_*.sh): from an ImageNet model, 448 crops.
    o.arch = "resnet50";
    o.model.head = "svd-pade";
    o.epochs = 200;
    o.batch_size = 10;
    o.lr = 3e-3;
    o.lr_schedule = "multistep:50,100";
    o.weight_decay = 1e-4;
    o.clip_grad = 0;
    o.classifier_factor = 20;
    o.transform = "cub";  // the row above is CUB-200's
  } else {
    fail("unknown --recipe '", recipe, "' (dsvd-alexnet, dsvd-resnet, isqrt-resnet, dsvd-fgvc, seb-cub, seb-cars, "
         "seb-aircraft)");
  }
  o.momentum = 0.9;
  o.model.head_dim = recipe.rfind("seb-", 0) == 0 ? 0 : 256;  // SEB: no reduction block, as with --pretrained there
  o.model.small_stem = false;
  o.model.width = 1.0;
  o.model.num_classes = 1000;
  o.image_size = recipe == "dsvd-fgvc" || recipe.rfind("seb-", 0) == 0 ? 448 : 224;
}

}  // namespace

TrainOptions parse_train_options(int argc, char** argv, bool* help) {
  std::vector<std::string> args = normalised(argc, argv);
  std::vector<char*> pointers;
  for (auto& a : args) pointers.push_back(a.data());
  CommandLine cli(int(pointers.size()), pointers.data(),
                  {"help", "evaluate", "no-bn-weight-decay", "audit", "deterministic", "no-eval", "audit-eval",
                   "sync-bn", "cuda-graph", "channels-last"});
  *help = cli.has("help");
  TrainOptions o;
  DSVD_CHECK(cli.positional().empty(), "unexpected argument '", cli.positional().empty() ? "" : cli.positional()[0],
             "' (options start with --; see --help)");
  // The built-in default run: Fashion-MNIST on a small ResNet-18 with the SVD-Padé head.
  o.model.small_stem = true;
  o.model.width = 0.25;
  o.model.head = "svd-pade";
  o.model.head_dim = 32;
  o.model.last_stride = 1;
  o.model.in_channels = 1;
  o.model.num_classes = 10;
  o.recipe = cli.get("recipe");
  apply_recipe(o.recipe, o);

  o.data = cli.get("data");
  o.dataset = cli.get("dataset", "fashion-mnist");
  DSVD_CHECK(o.dataset == "fashion-mnist", "unknown --dataset '", o.dataset, "' (fashion-mnist; or give --data DIR)");
  o.fashion_root = cli.get("fashion-root", kFashionMnistDefaultRoot);
  o.image_size = cli.get_int("image-size", int(o.image_size));
  o.transform = cli.get("transform", o.transform);
  o.workers = cli.get_int("workers", o.workers);
  o.arch = cli.get("arch", o.arch);
  // Model options: explicit ones override the recipe/default ones.
  apply_model_options(cli, o.model);
  o.epochs = cli.get_int("epochs", int(o.epochs));
  o.batch_size = cli.get_int("batch-size", int(o.batch_size));
  o.lr = cli.get_double("lr", o.lr);
  o.lr_schedule = cli.get("lr-schedule", o.lr_schedule);
  o.warmup_epochs = cli.get_int("warmup-epochs", int(o.warmup_epochs));
  o.momentum = cli.get_double("momentum", o.momentum);
  o.weight_decay = cli.get_double("wd", o.weight_decay);
  o.no_bn_weight_decay = cli.has("no-bn-weight-decay");
  o.clip_grad = cli.get_double("clip-grad", o.clip_grad);
  o.label_smoothing = cli.get_double("label-smoothing", o.label_smoothing);
  o.seed = uint64_t(cli.get_int("seed", 0));
  o.device = cli.get("device", "cpu");
  o.tf32 = cli.get("tf32", o.tf32);
  o.cuda_graph = cli.has("cuda-graph");
  o.channels_last = cli.has("channels-last");
  o.amp = cli.get("amp", o.amp);
  o.print_freq = cli.get_int("print-freq", int(o.print_freq));
  o.resume = cli.get("resume");
  o.evaluate = cli.has("evaluate");
  o.pretrained = cli.get("pretrained");
  o.classifier_factor = cli.get_double("classifier-factor", o.classifier_factor);
  o.freeze_layer = cli.get_int("freeze-layer", int(o.freeze_layer));
  o.dist_timeout = cli.get_double("dist-timeout", o.dist_timeout);
  o.sync_bn = cli.has("sync-bn");
  o.repair_scope = cli.get("repair-scope", o.repair_scope);
  DSVD_CHECK(o.repair_scope == "global" || o.repair_scope == "local", "--repair-scope must be global or local, got '",
             o.repair_scope, "'");
  o.out = cli.get("out", o.out);
  o.max_steps = cli.get_int("max-steps", 0);
  o.val_limit = cli.get_int("val-limit", 0);
  o.no_eval = cli.has("no-eval");
  o.audit_eval = cli.has("audit-eval");
  const int num_classes = cli.get_int("num-classes", 0);
  o.deterministic = cli.has("deterministic");
  if (cli.has("audit")) parse_audit_modes(cli.get("audit"), &o.audit_trace, &o.audit_stop_on_nonfinite);
  auto split = [](const std::string& text) {
    std::vector<std::string> out;
    std::stringstream parts(text);
    for (std::string p; std::getline(parts, p, ',');)
      if (!p.empty()) out.push_back(p);
    return out;
  };
  o.audit_ops = split(cli.get("audit-ops"));
  o.audit_module = cli.get("audit-module");
  if (cli.has("audit-steps")) {
    std::string r = cli.get("audit-steps");
    size_t colon = r.find(':');
    try {
      o.audit_first_step = std::stoll(r.substr(0, colon));
      o.audit_last_step = colon == std::string::npos ? o.audit_first_step : std::stoll(r.substr(colon + 1));
    } catch (...) {
      fail("--audit-steps expects A:B (or one step), got '", r, "'");
    }
  }
  o.audit_every = cli.get_int("audit-every", 1);
  DSVD_CHECK(o.audit_every >= 1, "--audit-every must be >= 1");
  o.dump_modules = split(cli.get("dump"));
  for (const auto& s : split(cli.get("dump-steps"))) {
    try {
      o.dump_steps.push_back(std::stoll(s));
    } catch (...) {
      fail("--dump-steps expects integers, got '", s, "'");
    }
  }
  cli.reject_unused();

  // Validation, before any work starts.
  DSVD_CHECK(o.epochs >= 1, "--epochs must be >= 1, got ", o.epochs);
  DSVD_CHECK(o.max_steps >= 0, "--max-steps must be >= 0, got ", o.max_steps);
  DSVD_CHECK(o.val_limit >= 0, "--val-limit must be >= 0 (0: the whole validation set), got ", o.val_limit);
  DSVD_CHECK(!(o.no_eval && o.evaluate), "--no-eval and --evaluate contradict each other");
  DSVD_CHECK(o.batch_size >= 1, "--batch-size must be >= 1, got ", o.batch_size);
  DSVD_CHECK(o.lr > 0, "--lr must be positive, got ", o.lr);
  DSVD_CHECK(o.workers >= 0, "--workers must be >= 0, got ", o.workers);
  DSVD_CHECK(o.print_freq >= 1, "--print-freq must be >= 1, got ", o.print_freq);
  DSVD_CHECK(o.clip_grad >= 0, "--clip-grad must be >= 0, got ", o.clip_grad);
  DSVD_CHECK(o.image_size >= 8, "--image-size must be >= 8, got ", o.image_size);
  DSVD_CHECK(o.device == "cpu" || o.device == "cuda", "--device must be cpu or cuda, got '", o.device, "'");
  DSVD_CHECK(o.tf32 == "conv" || o.tf32 == "all" || o.tf32 == "none", "--tf32 must be conv, all or none, got '", o.tf32,
             "'");
  DSVD_CHECK(o.amp == "off" || o.amp == "bf16" || o.amp == "fp16", "--amp must be off, bf16 or fp16, got '", o.amp,
             "'");
  if (o.device == "cuda") {
    std::string why;
    DSVD_CHECK(device_count(Device::Kind::CUDA, &why) > 0, "--device cuda: no CUDA device can be used here (", why, "); use --device cpu");
  }
  DSVD_CHECK(!o.evaluate || !o.resume.empty() || !o.pretrained.empty(),
             "--evaluate needs --resume CHECKPOINT or --pretrained WEIGHTS");
  DSVD_CHECK(o.resume.empty() || o.pretrained.empty(), "--resume and --pretrained contradict each other (--resume "
             "continues a run, --pretrained starts a new one from weights)");
  if (!o.resume.empty()) DSVD_CHECK(std::filesystem::exists(o.resume), "--resume: ", o.resume, " does not exist");
  if (!o.pretrained.empty())
    DSVD_CHECK(std::filesystem::exists(o.pretrained), "--pretrained: ", o.pretrained, " does not exist");
  DSVD_CHECK(o.classifier_factor >= 0, "--classifier-factor must be >= 0, got ", o.classifier_factor);
  DSVD_CHECK(o.freeze_layer >= 0, "--freeze-layer must be >= 0, got ", o.freeze_layer);
  DSVD_CHECK(o.dist_timeout > 0, "--dist-timeout must be positive, got ", o.dist_timeout);
  if (!o.data.empty()) {
    DSVD_CHECK(std::filesystem::is_directory(o.data), "--data: ", o.data, " is not a folder");
    DSVD_CHECK(std::filesystem::is_directory(std::filesystem::path(o.data) / "train"), "--data: ", o.data,
               " has no train/ folder (expected DIR/train/<class>/ and DIR/val/<class>/)");
    DSVD_CHECK(std::filesystem::is_directory(std::filesystem::path(o.data) / "val"), "--data: ", o.data,
               " has no val/ folder (expected DIR/train/<class>/ and DIR/val/<class>/)");
    o.model.in_channels = 3;
    o.model.num_classes = num_classes;  // 0: the number of class folders
    DSVD_CHECK(o.transform == "imagenet" || o.transform == "cub" || o.transform == "cars" || o.transform == "aircraft",
               "unknown --transform '", o.transform, "' (imagenet, cub, cars, aircraft)");
  } else {
    DSVD_CHECK(o.transform == "imagenet", "--transform ", o.transform, " is for ImageFolder data (--data DIR); "
               "Fashion-MNIST has its own pipeline");
    DSVD_CHECK(num_classes == 0 || num_classes == 10, "--num-classes: Fashion-MNIST has 10 classes, got ", num_classes);
  }
  DSVD_CHECK(num_classes >= 0, "--num-classes must be positive, got ", num_classes);
  nn::parse_lr_schedule(o.lr_schedule == "cosine" ? "cosine:" + std::to_string(o.epochs) : o.lr_schedule);
  if (nn::is_covariance_head(o.model.head)) nn::head_method(o.model.head);
  const char* archs[] = {"alexnet", "resnet18", "resnet34", "resnet50", "resnet101", "resnet152"};
  DSVD_CHECK(std::find(std::begin(archs), std::end(archs), o.arch) != std::end(archs), "unknown --arch '", o.arch,
             "' (alexnet, resnet18, resnet34, resnet50, resnet101, resnet152)");
  return o;
}

}  // namespace dsvd::train
