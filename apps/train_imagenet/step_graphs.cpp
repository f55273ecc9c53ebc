#include "apps/train_imagenet/step_graphs.h"

#include <cstdio>

#include "ops/ops.h"

namespace dsvd::train {

StepGraphs::StepGraphs(Device device, bool wanted, const std::string& why_not) : device_(device) {
  if (!wanted) return;
  enabled_ = why_not.empty();
  if (enabled_)
    std::printf("cuda graph: each step recorded once per batch shape (after one eager step) and replayed\n");
  else
    std::printf("cuda graph: off, %s; training without graphs\n", why_not.c_str());
}

StepOutputs StepGraphs::eager(const Tensor& images, const Tensor& labels, const Step& step) const {
  return step(images.to(device_), labels.to(device_));
}

StepOutputs StepGraphs::run(const Tensor& images, const Tensor& labels, const Step& step) {
  if (!enabled_) return eager(images, labels, step);
  Entry& e = by_shape_[images.sizes()];
  if (e.graph.defined() && e.labels.sizes() == labels.sizes()) {
    copy_(e.images, images);
    copy_(e.labels, labels);
    e.graph.replay();
    return e.outputs;
  }
  if (e.eager_steps++ == 0) return eager(images, labels, step);
  // Inputs first, outside the graph: the recording reads them where each replay's batch will be.
  e.images = images.to(device_);
  e.labels = labels.to(device_);
  try {
    e.graph = DeviceGraph::capture(device_, [&] { e.outputs = step(e.images, e.labels); });
  } catch (const Error& error) {
    std::printf("cuda graph: a step could not be recorded, so the run goes on without graphs: %s\n", error.what());
    std::fflush(stdout);
    enabled_ = false;
    by_shape_.clear();
    return eager(images, labels, step);
  }
  e.graph.replay();  // recording ran nothing: this is the step
  return e.outputs;
}

}  // namespace dsvd::train
