// torch.optim.SGD's state dict, as a checkpoint of PyTorch (the reference project's 'optimizer')
// holds it: {'state': {index: {'momentum_buffer': tensor}}, 'param_groups': [{'params': [index,
// ...], ...}, ...]}. The indices count the model's parameters in registration order over the
// groups; the file's state dict lists the same parameters in the same order (with the buffers,
// running_mean, running_var and num_batches_tracked, in between). This maps each momentum buffer to
// dsvd's parameter name, ready for Sgd::load_matching_state ("momentum_buffer.<name>").
#pragma once
#include "nn/module.h"
#include "nn/weights_file.h"

namespace dsvd::nn {

// `file` is the torch.save file read by read_weights_file; throws naming what does not fit.
NamedTensors sgd_state_from_torch(const WeightsFile& file, const std::string& path);

}  // namespace dsvd::nn
