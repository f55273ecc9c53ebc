// The training loop of train_imagenet: data, model, SGD, per-epoch validation, metrics.csv,
// checkpoints (atomic safetensors with the optimizer state and the run's position), exact resume,
// hybrid head switching, the non-finite-loss stop and the clean stop on Ctrl-C.
#pragma once
#include <atomic>
#include <memory>
#include <optional>

#include "apps/train_imagenet/options.h"
#include "apps/train_imagenet/step_graphs.h"
#include "apps/train_imagenet/step_statistics.h"
#include "datasets/data_loader.h"
#include "distributed/communicator.h"
#include "distributed/data_parallel.h"
#include "nn/covariance_head.h"
#include "nn/optim/grad_scaler.h"
#include "nn/optim/sgd.h"

namespace dsvd::train {

// Set by the SIGINT handler: the loop finishes its step, writes a checkpoint and returns.
std::atomic<bool>& stop_requested();

struct Evaluation {
  double loss = 0, top1 = 0, top5 = 0;  // accuracies in percent
  int64_t images = 0;                   // 0: no validation ran (--no-eval)
};

struct RunResult {
  int exit_code = 0;
  double last_train_loss = 0, first_train_loss = 0;
  Evaluation last_eval;
  int64_t steps = 0;
};

class Trainer {
 public:
  explicit Trainer(TrainOptions options);
  RunResult run();
  Evaluation validate();
  nn::Module& model() { return *model_; }
  std::string checkpoint_path() const;
  std::string best_path() const;

 private:
  // Where the model and each batch live: --device cpu, or cuda: GPU 0 in a single process, the
  // GPU of the rank's local rank (modulo the GPUs it sees) under a launcher.
  Device device() const { return device_; }
  void load_checkpoint(const std::string& path);
  // --resume from a PyTorch checkpoint of the reference project (weights, momentum, epoch, best).
  void load_torch_checkpoint(const std::string& path);
  // --pretrained, --freeze-layer, --classifier-factor.
  void prepare_fine_tuning();
  // Where a resume continues: `epoch`, after its first `examples` examples in the epoch's global
  // order (batch `batch` of this run's layout; another rank count or batch size goes by examples).
  void save_checkpoint(const std::string& path, int64_t epoch, size_t batch, size_t examples);
  void append_metrics(int64_t epoch, double lr, double train_loss, double train_top1, const StepFigures& f,
                      const Evaluation& e, double seconds, double images_per_s);
  // The end of an epoch, or of a stopped one: validation (unless --no-eval), the metrics row, the
  // epoch line, the checkpoint (`next_epoch`, `next_batch`, `next_examples`: where a resume
  // continues) and the best.
  Evaluation finish_epoch(int64_t epoch, double lr, const StepFigures& f, double seconds, int64_t next_epoch,
                          size_t next_batch, size_t next_examples);

  TrainOptions o_;
  Device device_ = Device::cpu();
  std::shared_ptr<const Dataset> train_set_, val_set_;
  std::unique_ptr<DataLoader> train_loader_, val_loader_;
  nn::ModulePtr model_;
  std::shared_ptr<nn::CovarianceHead> head_;  // the model's covariance head, if it has one
  std::unique_ptr<nn::Sgd> optimizer_;
  // --amp: the 16-bit dtype of the forward's autocast (none: float32), and float16's loss scaler.
  std::optional<DType> amp_dtype_;
  std::unique_ptr<nn::GradScaler> scaler_;
  int64_t amp_skipped_before_epoch_ = 0;  // the scaler's count of skipped steps when the epoch began
  // Data parallelism (docs/distributed.md): the communicator (size 1 in a single process) and,
  // with several ranks, the gradient averaging. Rank 0 alone prints and writes files.
  std::shared_ptr<distributed::Communicator> communicator_;
  std::unique_ptr<distributed::DataParallel> data_parallel_;
  bool main_rank() const { return communicator_->rank() == 0; }
  // The images as the model gets them: channels-last under --channels-last (a copy on the device).
  Tensor model_input(const Tensor& images) const {
    return o_.channels_last && images.dim() == 4 ? images.contiguous(MemoryFormat::ChannelsLast) : images;
  }
  // Why this run's steps cannot be recorded as graphs (--cuda-graph), or "".
  std::string graph_unsupported_reason() const;
  // Sums over the ranks (identity in a single process).
  void sum_over_ranks(double* values, size_t count);
  int64_t start_epoch_ = 0, global_step_ = 0;
  bool step_from_epoch_ = false;  // a PyTorch checkpoint has no step count: start_epoch_ · batches
  size_t start_batch_ = 0;
  // The examples of start_epoch_ already trained, in its global order (-1: a checkpoint without
  // them, resumed by start_batch_), and the layout that trained them.
  int64_t start_examples_ = -1;
  double best_top1_ = -1;
  int64_t num_classes_ = 0;
};

}  // namespace dsvd::train
