// .npy files (numpy's format, versions 1.0, 2.0 and 3.0): the exchange format for tensors.
// Supported dtypes: '<f4' float32, '<f8' float64, '<i8' int64, '|u1' uint8; C order only.
#pragma once
#include <string>

#include "tensor/tensor.h"

namespace dsvd {

// Writes `t` (any layout; written in C order) as version 1.0, or 2.0 when the header needs it.
// Writes to a temporary file and renames it into place, so a crash never leaves half a file.
void save_npy(const std::string& path, const Tensor& t);

// Reads a .npy file. Every defect (missing file, bad magic, unsupported version or dtype, Fortran
// order, malformed header, truncated data) throws dsvd::Error naming the file and the defect.
Tensor load_npy(const std::string& path);

// Parses an in-memory .npy image; `name` is used in error messages (e.g. the file it came from).
Tensor parse_npy(const std::string& bytes, const std::string& name);

}  // namespace dsvd
