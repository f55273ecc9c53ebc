// Tensor::str(): numpy-like printing. Tensors with more than kElideThreshold elements show the
// first and last kEdgeItems entries of each dimension with "..." between, as numpy does.
#include <cmath>
#include <cstdio>
#include <sstream>

#include "tensor/tensor.h"

namespace dsvd {
namespace {

constexpr int64_t kElideThreshold = 1000;
constexpr int64_t kEdgeItems = 3;

// The indices shown along a dimension of `size`; -1 marks the "..." gap.
std::vector<int64_t> shown_indices(int64_t size, bool elide) {
  std::vector<int64_t> idx;
  if (!elide || size <= 2 * kEdgeItems) {
    for (int64_t i = 0; i < size; ++i) idx.push_back(i);
  } else {
    for (int64_t i = 0; i < kEdgeItems; ++i) idx.push_back(i);
    idx.push_back(-1);
    for (int64_t i = size - kEdgeItems; i < size; ++i) idx.push_back(i);
  }
  return idx;
}

struct Formatter {
  bool floating = false;
  bool integral_values = true;  // every finite value is a whole number
  bool scientific = false;
  size_t width = 1;

  std::string format(double v) const {
    char buf[64];
    if (std::isnan(v)) return "nan";
    if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
    if (!floating) std::snprintf(buf, sizeof buf, "%lld", (long long)v);
    else if (scientific) std::snprintf(buf, sizeof buf, "%.4e", v);
    else if (integral_values) std::snprintf(buf, sizeof buf, "%.0f.", v);
    else std::snprintf(buf, sizeof buf, "%.4f", v);
    return buf;
  }
};

class Printer {
 public:
  Printer(const Tensor& t, bool elide) : t_(t), elide_(elide) {
    base_ = t.data_ptr();
  }

  double value_at(int64_t offset) const {
    return DSVD_DISPATCH_STORAGE(t_.dtype(), "print", [&] {
      return value_cast<double>(static_cast<const scalar_t*>(base_)[offset]);
    });
  }

  void collect(int64_t dim, int64_t offset, std::vector<double>& out) const {
    if (dim == t_.dim()) {
      out.push_back(value_at(offset));
      return;
    }
    for (int64_t i : shown_indices(t_.size(dim), elide_))
      if (i >= 0) collect(dim + 1, offset + i * t_.stride(dim), out);
  }

  void print(std::ostream& os, const Formatter& f, int64_t dim, int64_t offset, size_t indent) const {
    if (dim == t_.dim()) {
      std::string s = f.format(value_at(offset));
      os << std::string(f.width > s.size() ? f.width - s.size() : 0, ' ') << s;
      return;
    }
    os << '[';
    auto idx = shown_indices(t_.size(dim), elide_);
    for (size_t k = 0; k < idx.size(); ++k) {
      if (k > 0) {
        if (dim == t_.dim() - 1) {
          os << ", ";
        } else {
          os << ",\n" << std::string(size_t(t_.dim() - dim - 2), '\n') << std::string(indent + 1, ' ');
        }
      }
      if (idx[k] < 0) os << "...";
      else print(os, f, dim + 1, offset + idx[k] * t_.stride(dim), indent + 1);
    }
    os << ']';
  }

 private:
  const Tensor& t_;
  bool elide_;
  const void* base_;
};

}  // namespace

std::string Tensor::str() const {
  if (!defined()) return "tensor(undefined)";
  if (!device().is_cpu()) {  // the values of a CPU copy, then the device, as PyTorch prints it
    std::string s = detach().to(Device::cpu()).str();
    return s.substr(0, s.size() - 1) + ", device='" + device().str() + "')";
  }
  bool elide = numel() > kElideThreshold;
  Printer printer(*this, elide);
  std::vector<double> values;
  if (numel() > 0) printer.collect(0, 0, values);

  Formatter f;
  f.floating = is_floating(dtype());
  double max_abs = 0, min_abs = INFINITY;
  for (double v : values) {
    if (!std::isfinite(v)) continue;
    if (v != std::floor(v)) f.integral_values = false;
    max_abs = std::max(max_abs, std::fabs(v));
    if (v != 0) min_abs = std::min(min_abs, std::fabs(v));
  }
  if (f.floating) {
    f.scientific = max_abs >= 1e8 || (!f.integral_values && min_abs < 1e-4) ||
                   (f.integral_values && max_abs >= 1e16);
  }
  for (double v : values) f.width = std::max(f.width, f.format(v).size());

  std::ostringstream os;
  const std::string prefix = "tensor(";
  os << prefix;
  if (numel() == 0) os << "[]";
  else printer.print(os, f, 0, 0, prefix.size());
  os << ", dtype=" << dtype_name(dtype());
  if (elide || numel() == 0) os << ", shape=" << shape_str(sizes());
  if (requires_grad()) os << ", requires_grad=True";
  os << ')';
  return os.str();
}

}  // namespace dsvd
