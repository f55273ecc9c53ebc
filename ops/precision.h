// Which reduced-precision math the device kernels may use, as PyTorch's
// torch.backends.cuda.matmul.allow_tf32 and torch.backends.cudnn.allow_tf32: TF32 tensor cores
// for float32 convolutions (on by default, as PyTorch) and matrix products (off by default).
// Device-neutral switches; the CPU kernels ignore them.
#pragma once

namespace dsvd {

void set_tf32_matmul(bool on);
bool tf32_matmul();
void set_tf32_conv(bool on);
bool tf32_conv();

}  // namespace dsvd
