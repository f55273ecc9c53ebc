// Grad mode: whether ops record graph nodes. On by default, per thread; NoGradGuard turns it off
// for a scope (evaluation, optimizer updates, the backward pass itself).
#pragma once

namespace dsvd {

bool grad_mode_enabled();
void set_grad_mode(bool enabled);

class NoGradGuard {
 public:
  NoGradGuard() : previous_(grad_mode_enabled()) { set_grad_mode(false); }
  ~NoGradGuard() { set_grad_mode(previous_); }
  NoGradGuard(const NoGradGuard&) = delete;
  NoGradGuard& operator=(const NoGradGuard&) = delete;

 private:
  bool previous_;
};

}  // namespace dsvd
