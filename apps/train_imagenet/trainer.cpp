#include "apps/train_imagenet/trainer.h"

#include "ops/precision.h"
#include "tensor/device_backend.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "apps/timing.h"
#include "apps/train_imagenet/curves.h"
#include "autograd/audit.h"
#include "autograd/autocast_mode.h"
#include "nn/covariance_head.h"
#include "nn/fold_batch_norm.h"
#include "nn/optim/clip_grad.h"
#include "ops/cpu/blas_runtime.h"
#include "ops/cpu/conv2d_kernels.h"
#include "nn/optim/lr_schedule.h"
#include "nn/weights_file.h"
#include "ops/matfn/sqrt_rule.h"
#include "distributed/global_repairs.h"
#include "distributed/sync_batch_norm.h"
#include "ops/nn_ops.h"
#include "ops/ops.h"

namespace dsvd::train {
namespace fs = std::filesystem;

std::atomic<bool>& stop_requested() {
  static std::atomic<bool> flag{false};
  return flag;
}

namespace {

std::string format_seconds(double s) {
  char buf[32];
  int64_t t = int64_t(s + 0.5);
  std::snprintf(buf, sizeof buf, "%lld:%02lld", (long long)(t / 60), (long long)(t % 60));
  return buf;
}

nn::LrSchedule schedule_for(const TrainOptions& o) {
  nn::LrSchedule s = nn::parse_lr_schedule(o.lr_schedule == "cosine" ? "cosine:" + std::to_string(o.epochs) : o.lr_schedule);
  s.warmup_epochs = o.warmup_epochs;
  return s;
}

}  // namespace

Trainer::Trainer(TrainOptions options) : o_(std::move(options)) {
  // Data first: the class count of an ImageFolder sizes the classifier.
  if (!o_.data.empty()) {
    ImageFolder train_folder((fs::path(o_.data) / "train").string());
    ImageFolder val_folder((fs::path(o_.data) / "val").string(), train_folder.classes());
    num_classes_ = int64_t(train_folder.classes().size());
    DSVD_CHECK(train_folder.size() > 0, "--data: ", o_.data, "/train holds no images");
    const int size = int(o_.image_size);
    ImageTransform train_transform = imagenet_train_transform(size);
    ImageTransform val_transform = imagenet_val_transform(size * 256 / 224, size);
    if (o_.transform != "imagenet") {
      const FgvcBenchmark benchmark = o_.transform == "cub"    ? FgvcBenchmark::Cub
                                      : o_.transform == "cars" ? FgvcBenchmark::Cars
                                                               : FgvcBenchmark::Aircraft;
      train_transform = fgvc_transform(benchmark, true, size);
      val_transform = fgvc_transform(benchmark, false, size);
    }
    train_set_ = std::make_shared<ImageFolderDataset>(std::move(train_folder), train_transform);
    val_set_ = std::make_shared<ImageFolderDataset>(std::move(val_folder), val_transform);
    if (o_.model.num_classes == 0) o_.model.num_classes = num_classes_;
  } else {
    FashionMnistOptions train;
    train.root = o_.fashion_root;
    train.train = true;
    train.channels = int(o_.model.in_channels);
    train.random_flip = true;
    FashionMnistOptions test = train;
    test.train = false;
    test.random_flip = false;
    train_set_ = std::make_shared<FashionMnistDataset>(train);
    val_set_ = std::make_shared<FashionMnistDataset>(test);
    num_classes_ = 10;
    o_.model.num_classes = 10;
  }
  if (o_.deterministic) {
    // The CPU kernels already reduce in a fixed order; OpenBLAS on one thread removes its
    // partitioning from the picture, and convolutions take im2col + GEMM, whose sums do not depend
    // on the thread count as oneDNN's do (docs/auditing.md gives the cost).
    set_blas_threads(1);
    cpu::set_cpu_conv_path(cpu::CpuConvPath::Im2col);
  }
  if (o_.audit_trace || o_.audit_stop_on_nonfinite || !o_.dump_modules.empty()) {
    audit::Config a;
    a.dir = o_.out;
    a.trace = o_.audit_trace;
    a.stop_on_nonfinite = o_.audit_stop_on_nonfinite;
    a.ops = o_.audit_ops;
    a.module_prefix = o_.audit_module;
    a.first_step = o_.audit_first_step;
    if (o_.audit_last_step >= 0) a.last_step = o_.audit_last_step;
    a.every = o_.audit_every;
    a.dump_modules = o_.dump_modules;
    a.dump_steps = o_.dump_steps;
    a.audit_eval = o_.audit_eval;
    audit::enable(a);
  }
  if (o_.device == "cuda") {
    const int gpus = device_count(Device::Kind::CUDA);
    device_ = Device::cuda(gpus > 0 ? distributed::launcher_local_rank() % gpus : 0);
  }
  communicator_ = distributed::init_communicator(o_.dist_timeout, device_);
  manual_seed(o_.seed);
  model_ = nn::make_model(o_.arch, o_.model);
  if (o_.device == "cuda") {
    set_tf32_conv(o_.tf32 != "none");
    set_tf32_matmul(o_.tf32 == "all");
    model_->to(device_);  // before the optimizer sees the parameters
  }
  if (audit::enabled()) audit::name_parameters(model_->named_parameters());
  for (const auto& [name, m] : model_->children())
    if (name == "representation") head_ = std::dynamic_pointer_cast<nn::CovarianceHead>(m);
  nn::SgdOptions sgd{o_.lr, o_.momentum, 0.0, o_.weight_decay, false, o_.no_bn_weight_decay};
  prepare_fine_tuning();
  optimizer_ = std::make_unique<nn::Sgd>(model_->named_parameters(), sgd);
  if (o_.amp != "off") {
    amp_dtype_ = o_.amp == "bf16" ? DType::BFloat16 : DType::Float16;
    if (*amp_dtype_ == DType::Float16) scaler_ = std::make_unique<nn::GradScaler>();
    if (main_rank())
      std::printf("mixed precision: %s convolutions and matrix products, float32 weights, loss and head%s\n",
                  dtype_name(*amp_dtype_), scaler_ ? "; dynamic loss scaling from 2^16" : "");
  }
  if (o_.classifier_factor != 1) {
    const std::string classifier = o_.arch == "alexnet" ? "classifier." : "fc.";
    const int64_t n = optimizer_->set_lr_factor(classifier, o_.classifier_factor);
    std::printf("classifier (%s*, %lld tensors): learning rate x %g\n", classifier.c_str(), (long long)n,
                o_.classifier_factor);
  }
  if (!o_.resume.empty()) {
    if (nn::is_torch_save_file(o_.resume)) load_torch_checkpoint(o_.resume);
    else load_checkpoint(o_.resume);
  }

  DataLoaderOptions train_opts;
  train_opts.batch_size = size_t(o_.batch_size);
  train_opts.shuffle = true;
  train_opts.workers = o_.workers;
  train_opts.seed = o_.seed;
  train_opts.replicas = size_t(communicator_->size());
  train_opts.rank = size_t(communicator_->rank());
  train_loader_ = std::make_unique<DataLoader>(train_set_, train_opts);
  DataLoaderOptions val_opts = train_opts;
  val_opts.shuffle = false;
  val_opts.pad_shards = false;  // every validation image exactly once over the ranks
  val_loader_ = std::make_unique<DataLoader>(val_set_, val_opts);
  if (communicator_->size() > 1) {
    // Everyone starts from rank 0's weights, buffers and momentum.
    nn::NamedTensors trainable;
    for (const auto& [name, p] : model_->named_parameters())
      if (p.requires_grad()) trainable.emplace_back(name, p);
    // The buckets are reduced on their own duplicate of the communicator, overlapping the backward;
    // synchronised batch norm and the head's global repairs communicate on communicator_ from the
    // main thread meanwhile.
    data_parallel_ = std::make_unique<distributed::DataParallel>(communicator_, trainable);
    if (o_.sync_bn)
      std::printf("sync-bn: %lld batch norms over the global batch\n",
                  (long long)distributed::convert_sync_batch_norm(*model_, communicator_));
    if (head_ && !sqrt_rule(head_->sqrt_options().method).repair_sites.empty()) {
      const bool global = o_.repair_scope == "global";
      if (global) distributed::use_global_repairs(*model_, communicator_);
      std::printf("repair scope: %s (the head's overflow repairs over %s)\n", o_.repair_scope.c_str(),
                  global ? "the global batch, as the reference's head sees it" : "each rank's own batch");
    }
    data_parallel_->broadcast_state(model_->state_dict());
    data_parallel_->broadcast_state(optimizer_->state());
    std::printf("data parallel: %d ranks (%s), %zu gradient buckets; --batch-size %lld per rank, %lld in all\n",
                communicator_->size(), communicator_->backend().c_str(), data_parallel_->bucket_count(),
                (long long)o_.batch_size, (long long)(o_.batch_size * communicator_->size()));
  }
  if (step_from_epoch_) global_step_ = start_epoch_ * int64_t(train_loader_->num_batches());
}

std::string Trainer::graph_unsupported_reason() const {
  if (device_.is_cpu()) return "the CPU runs each op as it is called (graphs need --device cuda)";
  if (data_parallel_) return "data parallelism's gradient all-reduce waits on its own thread";
  if (audit::enabled()) return "the audit inspects tensors on the host at every op";
  return "";
}

void Trainer::sum_over_ranks(double* values, size_t count) {
  if (communicator_->size() == 1) return;
  Tensor t = from_vector(std::vector<double>(values, values + count), {int64_t(count)});
  communicator_->all_reduce(t, distributed::ReduceOp::Sum);
  const auto summed = to_vector(t);
  for (size_t i = 0; i < count; ++i) values[i] = summed[i];
}

Evaluation Trainer::validate() {
  model_->eval();
  NoGradGuard no_grad;
  nn::FoldBatchNorms folded(*model_);  // conv -> BN as one convolution while validating
  audit::PhaseScope phase(audit::Phase::Eval);  // not traced unless --audit-eval
  Evaluation e;
  // Summed on the device, read once at the end: the batches are queued without waiting.
  Tensor loss_sum = zeros({}, DType::Float64, device()), correct = zeros({2}, DType::Int64, device());
  val_loader_->start_epoch(0);
  while (auto b = val_loader_->next()) {
    Tensor images = b->images.to(device()), labels = b->labels.to(device());
    AutocastScope amp(amp_dtype_);  // validation computes as training does
    Tensor logits = model_->forward(model_input(images));
    const int64_t n = labels.numel();
    loss_sum = add(loss_sum, mul(cross_entropy(logits, labels).to(DType::Float64), double(n)));
    correct = add(correct, topk_correct_counts(logits, labels, {1, std::min<int64_t>(5, logits.size(1))}));
    e.images += n;
    // --val-limit: whole batches, the limit shared out over the ranks
    const int64_t limit = (o_.val_limit + communicator_->size() - 1) / communicator_->size();
    if (o_.val_limit > 0 && e.images >= limit) break;
  }
  const std::vector<double> sums = to_vector(cat({loss_sum.reshape({1}), correct.to(DType::Float64)}));
  double counts[4] = {sums[0], sums[1], sums[2], double(e.images)};
  sum_over_ranks(counts, 4);  // each rank validated its own shard
  const double total_loss = counts[0];
  const int64_t c1 = int64_t(counts[1]), c5 = int64_t(counts[2]);
  e.images = int64_t(counts[3]);
  if (e.images > 0) {
    e.loss = total_loss / double(e.images);
    e.top1 = 100.0 * double(c1) / double(e.images);
    e.top5 = 100.0 * double(c5) / double(e.images);
  }
  return e;
}

namespace {

constexpr const char* kMetricsHeader =
    "epoch,lr,train_loss,train_top1,val_loss,val_top1,val_top5,seconds,images_per_s,head_condition_mean,"
    "head_repairs_per_step,head_condition_max,head_condition_max_step,head_condition_max_sample,steps,val_images,"
    "amp_loss_scale,amp_skipped_steps";

// A metrics.csv that an earlier dsvd wrote with fewer columns (a run continued in the same --out
// after an upgrade) gets the current header, its rows padded with empty cells, atomically; one with
// another header is refused before any training, so that no epoch's row lands in a file that
// cannot hold it.
void prepare_metrics_file(const std::string& path) {
  if (!fs::exists(path)) return;
  std::ifstream in(path);
  std::string header, line;
  std::getline(in, header);
  if (header == kMetricsHeader) return;
  const std::string current = kMetricsHeader;
  DSVD_CHECK(!header.empty() && current.rfind(header + ",", 0) == 0, path, " has the columns '", header,
             "', which are not the start of this version's; move it away or choose another --out");
  const size_t missing = size_t(std::count(current.begin(), current.end(), ',') - std::count(header.begin(), header.end(), ','));
  std::string upgraded = current + "\n";
  while (std::getline(in, line)) upgraded += line + std::string(missing, ',') + "\n";
  const std::string temporary = path + ".tmp";
  {
    std::ofstream out(temporary, std::ios::trunc);
    out << upgraded;
    out.close();
    DSVD_CHECK(out.good(), "cannot write ", temporary);
  }
  fs::rename(temporary, path);
  std::printf("%s: written by an earlier version; now with this version's %zu more column(s), empty in old rows\n",
              path.c_str(), missing);
}

}  // namespace

void Trainer::append_metrics(int64_t epoch, double lr, double train_loss, double train_top1, const StepFigures& f,
                             const Evaluation& e, double seconds, double images_per_s) {
  std::string path = (fs::path(o_.out) / "metrics.csv").string();
  const bool fresh = !fs::exists(path);
  std::ofstream out(path, std::ios::app);
  DSVD_CHECK(out.good(), "cannot append to ", path);
  if (fresh) out << kMetricsHeader << "\n";
  char val[96] = ",,";  // --no-eval: empty validation columns
  if (e.images > 0) std::snprintf(val, sizeof val, "%.5f,%.3f,%.3f", e.loss, e.top1, e.top5);
  char line[520];
  std::snprintf(line, sizeof line, "%lld,%.6g,%.5f,%.3f,%s,%.1f,%.1f,%.6g,%.6g,%.6g,%lld,%lld,%lld,%lld,%.6g,%lld\n", (long long)epoch,
                lr, train_loss, train_top1, val, seconds, images_per_s,
                f.condition_count ? f.condition_sum / double(f.condition_count) : 0.0,
                f.steps ? f.repairs_sum / double(f.steps) : 0.0, f.condition_max, (long long)f.condition_max_step,
                (long long)f.condition_max_sample, (long long)f.steps, (long long)e.images,
                scaler_ ? scaler_->current_scale() : 1.0,
                (long long)(scaler_ ? scaler_->skipped_steps() - amp_skipped_before_epoch_ : 0));
  out << line;
  out.close();
  write_curves(path, (fs::path(o_.out) / "curves.svg").string());
}

Evaluation Trainer::finish_epoch(int64_t epoch, double lr, const StepFigures& f, double seconds, int64_t next_epoch,
                                  size_t next_batch, size_t next_examples) {
  double totals[3] = {f.loss_sum, double(f.correct), double(f.seen)};
  sum_over_ranks(totals, 3);  // the epoch's training figures over every rank
  const double loss_sum = totals[0];
  const int64_t correct = int64_t(totals[1]), seen = int64_t(totals[2]);
  const double rate = double(seen) / std::max(seconds, 1e-9);
  Evaluation e = o_.no_eval ? Evaluation{} : validate();
  const double train_loss = seen ? loss_sum / double(seen) : 0, train_top1 = seen ? 100.0 * double(correct) / double(seen) : 0;
  if (main_rank()) append_metrics(epoch, lr, train_loss, train_top1, f, e, seconds, rate);
  char val[160] = "no validation (--no-eval)";
  if (e.images > 0)
    std::snprintf(val, sizeof val, "val loss %.4f top-1 %.2f%% top-5 %.2f%%%s", e.loss, e.top1, e.top5,
                  o_.val_limit > 0 ? (" on " + std::to_string(e.images) + " images (--val-limit)").c_str() : "");
  std::printf("Epoch %lld%s: lr %.4g  train loss %.4f top-1 %.2f%%  |  %s  (%s, %.1f img/s)\n", (long long)epoch,
              next_epoch == epoch ? " (stopped)" : "", lr, train_loss, train_top1, val, format_seconds(seconds).c_str(), rate);
  const bool best = e.images > 0 && e.top1 > best_top1_;
  if (best) best_top1_ = e.top1;
  if (main_rank()) {  // one checkpoint for the job: every rank holds the same weights
    save_checkpoint(checkpoint_path(), next_epoch, next_batch, next_examples);
    if (best) save_checkpoint(best_path(), next_epoch, next_batch, next_examples);
  }
  return e;
}

RunResult Trainer::run() {
  RunResult result;
  fs::create_directories(o_.out);
  if (o_.evaluate) {
    Evaluation e = validate();
    std::printf("evaluate %s: loss %.4f  top-1 %.2f%%  top-5 %.2f%%  (%lld images)\n",
                (o_.resume.empty() ? o_.pretrained : o_.resume).c_str(), e.loss, e.top1,
                e.top5, (long long)e.images);
    result.last_eval = e;
    return result;
  }
  if (main_rank()) prepare_metrics_file((fs::path(o_.out) / "metrics.csv").string());
  const nn::LrSchedule schedule = schedule_for(o_);
  const bool tty = isatty(fileno(stdout));
  const auto params = model_->parameters();
  // One training step on device tensors: forward, loss, backward (the gradients averaged over the
  // ranks), float16's unscaling and skip, clipping, the update. Eager, or recorded once and
  // replayed under --cuda-graph (step_graphs.h).
  const StepGraphs::Step train_step = [&](const Tensor& images, const Tensor& labels) {
    StepOutputs out;
    out.labels = labels;
    {
      AutocastScope amp(amp_dtype_);
      out.logits = model_->forward(model_input(images));
      out.loss = cross_entropy(out.logits, labels, o_.label_smoothing);  // float32 under autocast
    }
    optimizer_->zero_grad();
    if (data_parallel_) data_parallel_->prepare_backward();
    (scaler_ ? scaler_->scale(out.loss) : out.loss).backward();
    if (data_parallel_) data_parallel_->finish_backward();  // every rank now holds the average
    if (head_) {
      auto report = head_->last_report();
      if (report && report->eigenvalues.defined()) {
        out.head_eigenvalues = report->eigenvalues;
        out.head_repairs = report->repairs.total_count(device());
      }
    }
    // float16: gradients unscaled before clipping; a step with inf/NaN in them is skipped, decided
    // on the device (every rank sees the same averaged gradients, so every rank skips it).
    if (scaler_) scaler_->unscale_(params);
    if (o_.clip_grad > 0) nn::clip_grad_norm(params, o_.clip_grad);  // a skipped step's clipping is moot
    if (scaler_) {
      scaler_->step(*optimizer_, params);
      scaler_->update();
    } else {
      optimizer_->step();
    }
    return out;
  };
  StepGraphs step_graphs(device(), o_.cuda_graph, graph_unsupported_reason());
  for (int64_t epoch = start_epoch_; epoch < o_.epochs; ++epoch) {
    const double lr = schedule.lr_at(o_.lr, double(epoch));
    optimizer_->set_lr(lr);
    model_->train();
    // Where this epoch starts: batch `first` of this layout, `base_examples` of the global order
    // done. A checkpoint of another rank count or batch size that stopped between two of this
    // layout's batches resumes by examples (the loader numbers the rest's batches from 0).
    const size_t per_step = size_t(o_.batch_size) * size_t(communicator_->size());
    size_t first = 0, base_examples = 0, batches = train_loader_->num_batches();
    if (epoch == start_epoch_ && start_examples_ > 0 && size_t(start_examples_) % per_step != 0) {
      base_examples = size_t(start_examples_);
      first = base_examples / per_step;
      train_loader_->resume_epoch(uint64_t(epoch), base_examples);
      batches = first + train_loader_->batches_this_epoch();
    } else {
      if (epoch == start_epoch_) first = start_examples_ >= 0 ? size_t(start_examples_) / per_step : start_batch_;
      base_examples = first * per_step;
      train_loader_->start_epoch(uint64_t(epoch), first);
    }
    // The examples of the global order done once batch_index batches of this epoch are.
    auto examples_done = [&](size_t batch_index) {
      return std::min(base_examples + (batch_index - first) * per_step, train_loader_->global_epoch_size());
    };
    StepStatistics stats(device());
    amp_skipped_before_epoch_ = scaler_ ? scaler_->skipped_steps() : 0;
    const int64_t epoch_first_step = global_step_;
    const double t0 = now_seconds();
    size_t batch_index = first;
    // The figures are read at progress lines, stops and the end of the epoch, not every step: a
    // non-finite loss is found there, and the run stops naming the step that had it (the weights
    // in memory went on with it; the checkpoint on disk is from before). Every rank decides alike.
    auto last_good_checkpoint = [&] { return fs::exists(checkpoint_path()) ? checkpoint_path() : std::string("none yet"); };
    auto nonfinite_stop = [&](const StepFigures& f, bool collective) {
      double anywhere = f.first_nonfinite_step >= 0 ? 1 : 0;
      if (collective) sum_over_ranks(&anywhere, 1);
      if (anywhere == 0) return false;
      if (f.first_nonfinite_step >= 0)
        std::fprintf(stderr, "\nstopped: non-finite loss (%s) at epoch %lld, batch %lld (step %lld). Last good checkpoint: %s\n",
                     std::isnan(f.nonfinite_loss) ? "NaN" : f.nonfinite_loss > 0 ? "+inf" : "-inf", (long long)epoch,
                     (long long)(first + size_t(f.first_nonfinite_step - epoch_first_step)),
                     (long long)f.first_nonfinite_step, last_good_checkpoint().c_str());
      else
        std::fprintf(stderr, "\nstopped: another rank had a non-finite loss. Last good checkpoint: %s\n",
                     last_good_checkpoint().c_str());
      result.exit_code = 3;
      return true;
    };
    auto note_losses = [&](const StepFigures& f) {
      if (f.steps == 0) return;
      if (result.steps == f.steps) result.first_train_loss = f.first_loss;
      result.last_train_loss = f.last_loss;
    };
    while (auto b = train_loader_->next()) {
      // Set every step: a cosine schedule anneals within the epoch.
      optimizer_->set_lr(schedule.lr_at(o_.lr, double(epoch) + double(batch_index) / double(batches)));
      audit::set_step(global_step_);
      // A stop inside a step names the step and the checkpoint to go back to: the audit's
      // non-finite stop (exit 3), or any other error (a NaN that reached the eigendecomposition, say;
      // exit 2) — unless an earlier step's loss was already non-finite, the cause to report.
      auto stop = [&](const Error& e, int exit_code) {
        try {
          if (nonfinite_stop(stats.read(), false)) return result;
        } catch (const Error&) {
        }
        std::fprintf(stderr, "\nstopped at epoch %lld, batch %zu (step %lld): %s\nLast good checkpoint: %s\n",
                     (long long)epoch, batch_index, (long long)global_step_, e.what(),
                     last_good_checkpoint().c_str());
        result.exit_code = exit_code;
        return result;
      };
      StepOutputs out;
      try {
        out = step_graphs.run(b->images, b->labels, train_step);
      } catch (const audit::NonFiniteError& e) {
        return stop(e, 3);
      } catch (const Error& e) {
        return stop(e, 2);
      }
      stats.add_step(global_step_, out.loss, out.logits, out.labels);
      if (out.head_eigenvalues.defined()) stats.add_head(global_step_, out.head_eigenvalues, out.head_repairs);
      ++global_step_;
      ++batch_index;
      result.steps++;
      const bool step_limit = o_.max_steps > 0 && result.steps >= o_.max_steps;
      const bool stopping = (stop_requested() || step_limit) && batch_index < batches;
      if (batch_index % size_t(o_.print_freq) == 0 || batch_index == batches || stopping) {
        const StepFigures f = stats.read();
        if (nonfinite_stop(f, true)) return result;
        note_losses(f);
        const double elapsed = now_seconds() - t0;
        const double rate = double(f.seen) / std::max(elapsed, 1e-9);
        const double eta = double(batches - batch_index) * elapsed / double(batch_index - first);
        std::printf("%sEpoch [%lld][%zu/%zu]  loss %.4f (%.4f)  top-1 %.2f%%  %.1f img/s  ETA %s%s", tty ? "\r" : "",
                    (long long)epoch, batch_index, batches, f.last_loss, f.loss_sum / double(f.seen),
                    100.0 * double(f.correct) / double(f.seen), rate, format_seconds(eta).c_str(), tty ? "   " : "\n");
        std::fflush(stdout);
        if (stopping) {
          // Steps count from 0 in the audit trace: the last one run is global_step_ − 1.
          std::printf("%sstopped after training step %lld (%lld steps run; %s)\n", tty ? "\n" : "",
                      (long long)(global_step_ - 1), (long long)result.steps, step_limit ? "--max-steps" : "interrupted");
          result.last_eval =
              finish_epoch(epoch, lr, f, now_seconds() - t0, epoch, batch_index, examples_done(batch_index));
          return result;
        }
      }
    }
    const StepFigures f = stats.read();
    if (nonfinite_stop(f, true)) return result;
    note_losses(f);
    if (tty) std::printf("\n");
    result.last_eval = finish_epoch(epoch, lr, f, now_seconds() - t0, epoch + 1, 0, 0);
    const bool step_limit = o_.max_steps > 0 && result.steps >= o_.max_steps;
    if ((stop_requested() || step_limit) && epoch + 1 < o_.epochs) {
      std::printf("stopped after epoch %lld (%s); checkpoint %s\n", (long long)epoch,
                  step_limit ? "--max-steps" : "interrupted", checkpoint_path().c_str());
      return result;
    }
  }
  return result;
}

}  // namespace dsvd::train
