// train_imagenet: trains AlexNet or ResNet with a plain or covariance-pooling head on an
// ImageNet-style folder or on Fashion-MNIST (the built-in default), on the CPU.
// See --help; the loop is in trainer.cpp, the options in options.cpp.
#include <csignal>
#include <cstdio>
#include <filesystem>

#include "apps/exit_on_error.h"
#include "apps/train_imagenet/trainer.h"
#include "distributed/communicator.h"
#include "tensor/device_backend.h"
#include "ops/cpu/blas_runtime.h"
#include "ops/cpu/conv2d_kernels.h"

namespace {
void on_interrupt(int) { dsvd::train::stop_requested() = true; }
}  // namespace

int main(int argc, char** argv) {
  using namespace dsvd;
  // Under mpirun every rank runs this program; rank 0 alone speaks (errors still reach stderr).
  if (distributed::launcher_rank() != 0 && !std::freopen("/dev/null", "w", stdout)) return 2;
  try {
    bool help = false;
    train::TrainOptions options = train::parse_train_options(argc, argv, &help);
    if (help) {
      std::fputs(train::train_usage(), stdout);
      return 0;
    }
    std::printf("%s\n%s\n", blas_summary().c_str(), device_summary(Device::Kind::CUDA).c_str());
    train::Trainer trainer(options);
    std::printf("CPU convolutions (float32): %s\n", cpu::cpu_conv_path_name(cpu::cpu_conv_path(DType::Float32)));
    std::printf("model %s, head %s (dim %lld), %lld parameters; data %s; out %s\n", options.arch.c_str(),
                options.model.head.c_str(), (long long)options.model.head_dim, (long long)trainer.model().parameter_count(),
                options.data.empty() ? "Fashion-MNIST" : options.data.c_str(), options.out.c_str());
    std::signal(SIGINT, on_interrupt);
    train::RunResult r = trainer.run();
    if (r.exit_code == 0 && !options.evaluate) {
      // Only the files that exist.
      std::string files;
      for (const std::string& f : {options.out + "/metrics.csv", options.out + "/curves.svg", trainer.checkpoint_path(),
                                    trainer.best_path()})
        if (std::filesystem::exists(f)) files += (files.empty() ? "" : ", ") + f;
      if (r.last_eval.images > 0)
        std::printf("final: test top-1 %.2f%%, top-5 %.2f%%, loss %.4f (%lld images); wrote %s\n", r.last_eval.top1,
                    r.last_eval.top5, r.last_eval.loss, (long long)r.last_eval.images, files.c_str());
      else
        std::printf("final: no validation (--no-eval); wrote %s\n", files.c_str());
    }
    return r.exit_code;
  } catch (const std::exception& e) {  // dsvd::Error, file system errors, anything else
    return exit_on_error("train_imagenet", e);
  }
}
