// make_model: architecture names to builders, and the head names.
#include "nn/models/alexnet.h"
#include "nn/models/resnet.h"

namespace dsvd::nn {

bool is_covariance_head(const std::string& head) { return head != "gap"; }

// The heads without an eigendecomposition are named as their rule; the SVD rules as svd-<rule>.
std::string head_name(SqrtMethod method) {
  if (method == SqrtMethod::Seb) return "seb";  // a head of its own, not an SVD square-root rule
  return std::string(uses_eigendecomposition(method) ? "svd-" : "") + sqrt_method_name(method);
}

SqrtMethod head_method(const std::string& head) {
  std::string valid = "gap";
  for (SqrtMethod m : all_sqrt_methods()) {
    if (head == head_name(m)) return m;
    valid += ", " + head_name(m);
  }
  fail("unknown head '", head, "' (", valid, ")");
}

ModulePtr make_model(const std::string& arch, const ModelOptions& o) {
  DSVD_CHECK(o.num_classes >= 1, "make_model: num_classes must be >= 1, got ", o.num_classes);
  DSVD_CHECK(o.width > 0, "make_model: width must be positive, got ", o.width);
  if (is_covariance_head(o.head)) head_method(o.head);  // validate early, with the list of heads
  if (arch == "alexnet") return std::make_shared<AlexNet>(o);
  if (arch == "resnet18") return std::make_shared<ResNet>(false, std::vector<int64_t>{2, 2, 2, 2}, o);
  if (arch == "resnet34") return std::make_shared<ResNet>(false, std::vector<int64_t>{3, 4, 6, 3}, o);
  if (arch == "resnet50") return std::make_shared<ResNet>(true, std::vector<int64_t>{3, 4, 6, 3}, o);
  if (arch == "resnet101") return std::make_shared<ResNet>(true, std::vector<int64_t>{3, 4, 23, 3}, o);
  if (arch == "resnet152") return std::make_shared<ResNet>(true, std::vector<int64_t>{3, 8, 36, 3}, o);
  fail("unknown architecture '", arch, "' (alexnet, resnet18, resnet34, resnet50, resnet101, resnet152)");
}

}  // namespace dsvd::nn
