// convert_weights: a PyTorch checkpoint (torch.save: torchvision, DDP or the reference project's
// layout) to dsvd's safetensors, whose names are torchvision's, so that PyTorch users can read it
// back with the safetensors library and dsvd reads it without the unpickler:
//
//   convert_weights --arch resnet50 --head svd-pade [--num-classes N ...] IN.pth.tar OUT.safetensors
//
// The weights go through the model they describe (the same checks as predict and --pretrained:
// every tensor the model needs, with its shape), so a file that converts is a file that loads.
// The summary line says what was loaded, filled and left unused.
#include <cstdio>

#include "apps/cli.h"
#include "apps/exit_on_error.h"
#include "apps/model_cli.h"
#include "nn/safetensors.h"
#include "nn/weights_file.h"

namespace {

const char* kUsage = R"(convert_weights: a PyTorch .pth/.pth.tar to dsvd's .safetensors (torchvision names)

  convert_weights --arch ARCH [--num-classes N] [--head H --head-dim D ...] IN OUT.safetensors

  --arch          alexnet | resnet18 | resnet34 | resnet50 | resnet101 | resnet152
  --num-classes   classifier width (default 1000)
  --head          gap (default) | isqrt | svd-<rule> | mtp-lya | mpa-lya; --head-dim (256),
                  --last-stride (2), --stem standard|small, --width (1)
IN is read by content (torch.save zip or legacy format, or safetensors); OUT is written atomically.
)";

}  // namespace

int main(int argc, char** argv) {
  using namespace dsvd;
  try {
    CommandLine cli(argc, argv, {"help"});
    if (cli.has("help") || argc == 1) {
      std::fputs(kUsage, stdout);
      return cli.has("help") ? 0 : 2;
    }
    const std::string arch = cli.require("arch");
    nn::ModelOptions options;
    options.num_classes = cli.get_int("num-classes", 1000);
    apply_model_options(cli, options);
    DSVD_CHECK(cli.positional().size() == 2, "expected IN and OUT, got ", cli.positional().size(),
               " file names (see --help)");
    cli.reject_unused();
    const std::string in = cli.positional()[0], out = cli.positional()[1];
    auto model = nn::make_model(arch, options);
    nn::WeightsLoadSummary s = nn::load_weights_file(in, *model);
    nn::save_weights(out, *model, {{"source", in}, {"arch", arch}, {"head", options.head}});
    std::printf("%s\nwrote %s\n", s.line().c_str(), out.c_str());
    return 0;
  } catch (const std::exception& e) {
    return exit_on_error("convert_weights", e);
  }
}
