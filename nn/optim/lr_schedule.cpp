#include "nn/optim/lr_schedule.h"

#include <cmath>
#include <sstream>

#include "tensor/error.h"

namespace dsvd::nn {

double LrSchedule::lr_at(double base_lr, double epoch_position) const {
  DSVD_CHECK(epoch_position >= 0, "lr schedule: negative epoch ", epoch_position);
  const int64_t epoch = int64_t(epoch_position);
  double lr = base_lr;
  if (kind == "step") {
    lr = base_lr * std::pow(gamma, double(epoch / step_size));
  } else if (kind == "multistep") {
    int64_t passed = 0;
    for (int64_t m : milestones) passed += epoch >= m;
    lr = base_lr * std::pow(gamma, double(passed));
  } else if (kind == "cosine") {
    lr = eta_min + (base_lr - eta_min) * (1 + std::cos(M_PI * std::min(epoch_position, double(t_max)) / double(t_max))) / 2;
  } else {
    DSVD_CHECK(kind == "constant", "lr schedule: unknown kind '", kind, "'");
  }
  if (epoch < warmup_epochs) lr *= double(epoch + 1) / double(warmup_epochs);
  return lr;
}

LrSchedule parse_lr_schedule(const std::string& text) {
  std::vector<std::string> parts;
  std::stringstream in(text);
  for (std::string p; std::getline(in, p, ':');) parts.push_back(p);
  DSVD_CHECK(!parts.empty(), "lr schedule: empty description");
  LrSchedule s;
  s.kind = parts[0];
  auto number = [&](size_t i) {
    try {
      return std::stod(parts.at(i));
    } catch (...) {
      fail("lr schedule '", text, "': part ", i + 1, " is not a number");
    }
  };
  if (s.kind == "step") {
    DSVD_CHECK(parts.size() >= 2, "lr schedule '", text, "': expected step:STEP_SIZE[:GAMMA]");
    s.step_size = int64_t(number(1));
    DSVD_CHECK(s.step_size >= 1, "lr schedule '", text, "': step size must be >= 1");
    if (parts.size() > 2) s.gamma = number(2);
  } else if (s.kind == "multistep") {
    DSVD_CHECK(parts.size() >= 2, "lr schedule '", text, "': expected multistep:M1,M2,...[:GAMMA]");
    std::stringstream ms(parts[1]);
    for (std::string m; std::getline(ms, m, ',');) {
      try {
        s.milestones.push_back(std::stoll(m));
      } catch (...) {
        fail("lr schedule '", text, "': milestone '", m, "' is not an integer");
      }
    }
    if (parts.size() > 2) s.gamma = number(2);
  } else if (s.kind == "cosine") {
    DSVD_CHECK(parts.size() >= 2, "lr schedule '", text, "': expected cosine:T_MAX[:ETA_MIN]");
    s.t_max = int64_t(number(1));
    DSVD_CHECK(s.t_max >= 1, "lr schedule '", text, "': T_max must be >= 1");
    if (parts.size() > 2) s.eta_min = number(2);
  } else {
    DSVD_CHECK(s.kind == "constant" && parts.size() == 1, "lr schedule '", text, "': unknown (constant, step:N[:G], "
               "multistep:A,B[:G], cosine:T[:MIN])");
  }
  return s;
}

}  // namespace dsvd::nn
