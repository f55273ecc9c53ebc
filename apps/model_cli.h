// Command-line options that describe a model and its head's rule, shared by predict,
// train_imagenet and svd_lab: --head, --head-dim, --last-stride, --stem (standard|small),
// --width, and the rule options --iters, --degree, --drop, --limit. Each option overrides the
// value already in the options it is applied to (defaults, or a recipe's).
#pragma once
#include "apps/cli.h"
#include "nn/models/model_options.h"

namespace dsvd {

// --iters N (isqrt, newton, pi, pi-deflation, mtp-lya, mpa-lya), --tol T (mtp-lya, mpa-lya: stop
// the sign iteration once ‖B − I‖_F < T), --degree D (taylor), --drop K (topn), --limit T (trunc).
inline void apply_rule_options(const CommandLine& cli, MatrixSqrtOptions& o) {
  if (cli.has("iters")) {
    int n = cli.get_int("iters", 0);
    DSVD_CHECK(n >= 1, "--iters must be >= 1, got ", n);
    o.isqrt_iterations = o.newton_iterations = o.pi_iterations = o.lya_iterations = n;
  }
  o.lya_tolerance = cli.get_double("tol", o.lya_tolerance);
  DSVD_CHECK(o.lya_tolerance >= 0, "--tol must be >= 0, got ", o.lya_tolerance);
  o.taylor_degree = cli.get_int("degree", o.taylor_degree);
  o.topn_drop = cli.get_int("drop", o.topn_drop);
  o.trunc_limit = cli.get_double("limit", o.trunc_limit);
}

inline void apply_model_options(const CommandLine& cli, nn::ModelOptions& o) {
  o.head = cli.get("head", o.head);
  o.head_dim = cli.get_int("head-dim", int(o.head_dim));
  o.last_stride = cli.get_int("last-stride", int(o.last_stride));
  std::string stem = cli.get("stem", o.small_stem ? "small" : "standard");
  DSVD_CHECK(stem == "standard" || stem == "small", "--stem must be standard or small, got '", stem, "'");
  o.small_stem = stem == "small";
  o.width = cli.get_double("width", o.width);
  apply_rule_options(cli, o.sqrt);
}

}  // namespace dsvd
