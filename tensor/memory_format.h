// Memory formats of 4-D (N, C, H, W) tensors: the order their elements lie in memory. The logical
// shape and indexing never change; only the strides do (as PyTorch's torch.channels_last).
//   Contiguous:   NCHW in memory, strides (C·H·W, H·W, W, 1)
//   ChannelsLast: NHWC in memory, strides (H·W·C, 1, W·C, C) — what cuDNN's tensor-core
//                 convolutions read and write without transposing
// A tensor whose size-1 dimensions make both orders the same (C = 1, or H = W = 1) counts as
// Contiguous.
#pragma once
#include "tensor/shape.h"

namespace dsvd {

class Tensor;

enum class MemoryFormat { Contiguous, ChannelsLast };

const char* memory_format_name(MemoryFormat format);  // "contiguous", "channels-last"
// The strides of a dense tensor of `sizes` in `format` (ChannelsLast needs 4 sizes).
Shape strides_for(const Shape& sizes, MemoryFormat format);
// Whether t is dense in `format` (strides of size-1 dimensions do not matter, as for
// Tensor::is_contiguous).
bool is_dense_in(const Tensor& t, MemoryFormat format);
// ChannelsLast for a 4-D tensor dense in channels-last order and not also in NCHW order, else
// Contiguous: the format an op's output keeps when it follows its input.
MemoryFormat memory_format_of(const Tensor& t);

}  // namespace dsvd
