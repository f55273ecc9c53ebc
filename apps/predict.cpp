// predict: runs a model in evaluation mode on a batch and writes its logits, so anyone can check
// dsvd's numbers against another framework.
//
//   predict --arch resnet18 [--num-classes 1000] [--head gap] --weights W.safetensors
//           --input X.npy --output logits.npy
//   predict --arch resnet50 --weights W.safetensors --input a.jpg b.png [--image-size 224]
//
// An .npy input is a float32 (N, 3, H, W) batch used as is; image files go through the
// validation transform (resize the shorter side to size·256/224, centre crop, ImageNet
// normalisation). Weights are recognised by content: dsvd's safetensors, or a PyTorch file
// (torch.save: a torchvision state dict, a DistributedDataParallel one, or the reference project's
// checkpoint; nn/weights_file.h). One line on stderr says what was loaded, filled and unused; a file
// that does not match the architecture names the first missing or mis-shaped tensor.
#include <algorithm>
#include <cmath>
#include <cstdio>

#include "apps/exit_on_error.h"
#include "apps/audit_cli.h"
#include "apps/model_cli.h"
#include "nn/fold_batch_norm.h"
#include "apps/predict_input.h"
#include "datasets/image.h"
#include "datasets/transforms.h"
#include "nn/safetensors.h"
#include "nn/weights_file.h"
#include "ops/cpu/blas_runtime.h"
#include "ops/nn_ops.h"
#include "ops/ops.h"
#include "tensor/npy.h"

using namespace dsvd;

namespace {

const char* kUsage = R"(predict: logits of a model on a batch of images

  predict --arch ARCH --weights W --input X.npy [--output logits.npy]
  predict --arch ARCH --weights W --input a.jpg b.png ... [--output logits.npy]

  --weights       dsvd's .safetensors, or a PyTorch .pth / .pth.tar (torchvision, DDP or the
                  reference project's checkpoint), recognised by content

  --arch          alexnet | resnet18 | resnet34 | resnet50 | resnet101 | resnet152
  --num-classes   classifier width (default 1000)
  --head          gap (default) | isqrt | svd-<rule>; with --head-dim (256), --last-stride (2)
  --stem          standard | small;  --width  channel multiplier (default 1)
  --image-size    crop for image inputs (default 224; resize to size*256/224 first)
  --output        where to write the (N, classes) float32 logits (default: not written)
  --audit[=trace|stop-on-nonfinite]   trace every op to AUDIT_DIR/audit/trace.jsonl (--audit-dir, default .)
)";

Tensor load_inputs(const std::vector<std::string>& inputs, int size) {
  if (inputs.size() == 1 && inputs[0].size() > 4 && inputs[0].substr(inputs[0].size() - 4) == ".npy") {
    Tensor x = load_npy(inputs[0]);
    check_predict_batch(x, inputs[0]);
    return x;
  }
  auto transform = imagenet_val_transform(size * 256 / 224, size);
  std::vector<Tensor> images;
  SampleRng rng(0, 0, 0);
  for (const auto& path : inputs) images.push_back(transform(load_image(path), rng));
  return stack(images);
}

}  // namespace

int main(int argc, char** argv) {
  try {
    CommandLine cli(argc, argv, {"help", "audit"});
    if (cli.has("help") || argc == 1) {
      std::fputs(kUsage, stdout);
      return cli.has("help") ? 0 : 2;
    }
    std::string arch = cli.require("arch"), weights = cli.require("weights");
    std::vector<std::string> inputs = {cli.require("input")};
    for (const auto& extra : cli.positional()) inputs.push_back(extra);
    std::string output = cli.get("output");
    int size = cli.get_int("image-size", 224);
    nn::ModelOptions options;
    options.num_classes = cli.get_int("num-classes", 1000);
    apply_model_options(cli, options);
    enable_audit_from(cli, cli.get("audit-dir", "."));
    cli.reject_unused();
    std::fprintf(stderr, "%s\n", blas_summary().c_str());

    auto model = nn::make_model(arch, options);
    std::fprintf(stderr, "%s\n", nn::load_weights_file(weights, *model).line().c_str());
    model->eval();
    Tensor x = load_inputs(inputs, size);
    Tensor logits;
    {
      NoGradGuard no_grad;
      nn::FoldBatchNorms folded(*model);  // conv -> BN as one convolution (not while auditing)
      logits = model->forward(x).contiguous();
    }
    if (!output.empty()) save_npy(output, logits);
    const int64_t n = logits.size(0), classes = logits.size(1);
    for (int64_t i = 0; i < n; ++i) {
      Tensor row = log_softmax(logits.select(0, i).unsqueeze(0), 1).select(0, 0);
      auto p = to_vector(row);
      std::vector<int64_t> order(static_cast<size_t>(classes));
      for (int64_t k = 0; k < classes; ++k) order[size_t(k)] = k;
      std::partial_sort(order.begin(), order.begin() + std::min<int64_t>(5, classes), order.end(),
                        [&](int64_t a, int64_t b) { return p[size_t(a)] > p[size_t(b)]; });
      std::printf("%s:", inputs.size() == size_t(n) ? inputs[size_t(i)].c_str() : ("sample " + std::to_string(i)).c_str());
      for (int64_t k = 0; k < std::min<int64_t>(5, classes); ++k)
        std::printf("  %lld (%.3f)", (long long)order[size_t(k)], std::exp(p[size_t(order[size_t(k)])]));
      std::printf("\n");
    }
    if (!output.empty()) std::fprintf(stderr, "wrote %s (%lld x %lld float32)\n", output.c_str(), (long long)n, (long long)classes);
    return 0;
  } catch (const audit::NonFiniteError& e) {
    std::fprintf(stderr, "predict: stopped: %s\n", e.what());
    return 3;
  } catch (const std::exception& e) {  // dsvd::Error, file system errors, anything else
    return exit_on_error("predict", e);
  }
}
