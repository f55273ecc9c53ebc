// Command-line options that describe a model, shared by predict and train_imagenet:
// --arch, --num-classes, --head, --head-dim, --last-stride, --stem (standard|small), --width,
// plus the head's rule options (--iters, --degree, --drop, --limit).
#pragma once
#include "apps/cli.h"
#include "nn/models/model_options.h"

namespace dsvd {

inline nn::ModelOptions model_options_from(const CommandLine& cli, int64_t default_classes = 1000) {
  nn::ModelOptions o;
  o.num_classes = cli.get_int("num-classes", int(default_classes));
  o.head = cli.get("head", "gap");
  o.head_dim = cli.get_int("head-dim", 256);
  o.last_stride = cli.get_int("last-stride", 2);
  std::string stem = cli.get("stem", "standard");
  DSVD_CHECK(stem == "standard" || stem == "small", "--stem must be standard or small, got '", stem, "'");
  o.small_stem = stem == "small";
  o.width = cli.get_double("width", 1.0);
  if (cli.has("iters")) {
    int n = cli.get_int("iters", 0);
    DSVD_CHECK(n >= 1, "--iters must be >= 1");
    o.sqrt.isqrt_iterations = o.sqrt.newton_iterations = o.sqrt.pi_iterations = n;
  }
  o.sqrt.taylor_degree = cli.get_int("degree", o.sqrt.taylor_degree);
  o.sqrt.topn_drop = cli.get_int("drop", o.sqrt.topn_drop);
  o.sqrt.trunc_limit = cli.get_double("limit", o.sqrt.trunc_limit);
  return o;
}

}  // namespace dsvd
