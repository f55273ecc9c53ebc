// svd_lab: the teaching and auditing tool for the matrix square root of covariance pooling.
// Runs one rule on given features or matrices and writes every result as .npy, compares all rules
// on one input, and reproduces the numerical experiments of docs/matrix-function-gradients.md.
#include <cstdio>

#include "apps/exit_on_error.h"
#include "apps/svd_lab/lab.h"
#include "autograd/audit.h"

namespace {

const char* kUsage = R"(svd_lab: the matrix square root of covariance pooling, rule by rule

  svd_lab layer   --features X.npy --grad G.npy --rule R [--iters N] [--dtype f64|f32] --out DIR
      covariance -> square root (rule R) -> vectorisation on X (B,C,H,W float32); G is the upstream
      gradient (B, C(C+1)/2) or (B, C(C+1)/2, 1). Writes DIR/output.npy (B,L float32),
      DIR/grad_input.npy (B,C,H,W float32) and DIR/report.json (eigenvalues, repairs, timings).
  svd_lab matrix  --input S.npy --grad G.npy --rule R [--iters N] [--dtype f64|f32] [--output full|triu] --out DIR
      the square root of symmetric matrices S (B,n,n), computed in --dtype (default S's). --output
      full: the whole root (B,n,n), G of shape (B,n,n); triu: its vectorised upper triangle (B,L),
      G (B,L). Default: full for isqrt and newton (the reference's Sqrtm returns the matrix), triu
      for the SVD rules; a (B,n,n) G selects full. output.npy and grad_input.npy (dL/dS as the rule
      returns it, not symmetrised) are in S's dtype. The eigenvalue floor is the compute dtype's
      machine epsilon (2^-52 in f64, 2^-23 in f32).
  svd_lab matrix  --function invsqrt --input S.npy --grad G.npy --rule mpa-lya-inv|eig [--iters N] [--tol T] --out DIR
      the inverse square root S^{-1/2} (B,n,n) instead: mpa-lya-inv (Padé forward, Lyapunov backward,
      8 iterations) or eig (the eigendecomposition, exact gradient); G (B,n,n).
  svd_lab compare [--features X.npy | --input S.npy | --spectrum l1,l2,.. | --random B,C,H,W] [--grad G.npy] [--rules a,b]
                  [--format table|csv|json]
      every rule on one input: forward error, gradient error against the exact rule (float64),
      max |K|, eigenvalues at the floor, repaired entries, time. --spectrum: one matrix with these
      eigenvalues and random eigenvectors (--seed), e.g. a tie among non-null eigenvalues.
  svd_lab compare --spectra paper [--rules a,b] [--format table|csv|json]
      the same on the four kinds of spectrum the paper studies (n = 32): well conditioned,
      ill conditioned, rank-deficient as covariance pooling makes them, exact ties.
  svd_lab experiment E1|E2|E3|E4 [--format table|csv|json]
      E1 Taylor/Pade vs 1/(1-r) [--r-from A --r-to B --points N: a sweep, 1-r log-spaced];
      E2 close eigenvalues [--gap-from A --gap-to B --points N: a sweep of the gap 1-λ₂];
      E3 ties; E4 rank-deficient 7x7 and 13x13 maps; E5 every rule's time on 64 SPD 48x48 matrices
      relative to MPA-Lya [--device cpu|cuda --dtype f32|f64 --reps N] (the fast square roots' claim).

  svd_lab rules [--format table|csv|json]
      the table of rules: forward, backward, the options each reads, where it repairs, its file.

Rules: %s (the eigendecomposition rules also as svd-<rule>).
Checks: a matrix that is not positive semi-definite (an eigenvalue below −n·ε·max|λ|) is used
through |λ| as the reference's SVD does, with a warning naming the sample and eigenvalue; --strict
refuses it instead (layer, matrix). Results that hold NaN are reported with their cause, and the exit
code is 1 (Newton–Schulz on a zero-trace matrix: 0/0).
Audit: --audit[=trace|stop-on-nonfinite] writes DIR/audit/trace.jsonl (every op of the run, with
the eigenvalue summary and repair counts of the meta-layer) or stops at the first NaN/Inf with dumps.
Rule options: --iters N (isqrt 5, newton 10, pi and pi-deflation 20, mtp-lya and mpa-lya 8), --tol T
(mtp-lya, mpa-lya: stop the Lyapunov sign iteration once ‖B − I‖_F < T), --degree D (taylor, 100),
--drop K (topn, 50), --limit T (trunc, 1e10), --seed S (random inputs).
)";

}  // namespace

int main(int argc, char** argv) {
  try {
    dsvd::CommandLine cli(argc, argv, {"help", "audit", "strict"});
    if (cli.has("help") || cli.positional().empty()) {
      std::printf(kUsage, dsvd::lab::rule_names().c_str());
      return cli.has("help") ? 0 : 2;
    }
    const std::string& command = cli.positional()[0];
    if (command == "layer") return dsvd::lab::command_layer(cli);
    if (command == "matrix") return dsvd::lab::command_matrix(cli);
    if (command == "compare") return dsvd::lab::command_compare(cli);
    if (command == "experiment") return dsvd::lab::command_experiment(cli);
    if (command == "rules") return dsvd::lab::command_rules(cli);
    dsvd::fail("unknown command '", command, "' (layer, matrix, compare, experiment, rules; see --help)");
  } catch (const dsvd::audit::NonFiniteError& e) {
    std::fprintf(stderr, "svd_lab: stopped: %s\n", e.what());
    return 3;
  } catch (const std::exception& e) {  // dsvd::Error, file system errors, anything else
    return dsvd::exit_on_error("svd_lab", e);
  }
}
