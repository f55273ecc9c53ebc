// Audit mode: every numerical step visible, checkable and dumpable, without editing code.
//
// When enabled, every op that records through record_op (forward) and every node the backward
// engine runs (backward) reports to the auditor:
//   trace            one JSON object per step in DIR/audit/trace.jsonl, flushed line by line:
//                    seq, training step, op, module path ("layer1.0.conv1"), direction, and for
//                    each input/output (forward) or incoming/produced gradient (backward): shape,
//                    dtype, device, min, max, mean, L2 norm, NaN and Inf counts, plus notes an op
//                    adds (the matrix functions add their eigenvalue summary and repair counts).
//   stop             the first op whose output (forward) or produced gradient (backward) holds a
//                    NaN or Inf throws NonFiniteError after dumping its inputs, outputs and saved
//                    tensors to DIR/audit/dump/<seq>_<op>_<role>.npy with an index.
//   dump             --dump MODULE: the module's input, output, parameters and all their gradients
//                    as .npy at the chosen steps, in the same index.
// Every trace and index line says "phase": "train" or "eval". Evaluation (a validation pass) is
// not audited at all unless Config::audit_eval: its ops would otherwise drown the training step
// they run under. Parameter gradients (AccumulateGrad) carry the parameter's name and module once
// name_parameters() has been told the model's names.
// Filters: op names, module path prefix, a training-step range and a sampling period. With audit
// off, an op pays one branch on a global flag.
#pragma once
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "tensor/error.h"
#include "tensor/tensor.h"

namespace dsvd {
class Node;
struct Saved;
}

namespace dsvd::audit {

struct Config {
  std::string dir;                 // files go to DIR/audit/
  bool trace = false;
  bool stop_on_nonfinite = false;
  std::vector<std::string> ops;    // only these op names (empty: all)
  std::string module_prefix;       // only ops under this module path ("" : all)
  int64_t first_step = 0;          // training-step range that is traced
  int64_t last_step = std::numeric_limits<int64_t>::max();
  int64_t every = 1;               // trace every k-th training step
  std::vector<std::string> dump_modules;  // --dump MODULE_PATH
  std::vector<int64_t> dump_steps;        // steps to dump at (empty: every traced step)
  bool audit_eval = false;                // also trace/stop/dump during evaluation (--audit-eval)
};

enum class Phase { Train, Eval };
const char* phase_name(Phase phase);

// Raised by the non-finite stop; what() is the paragraph that explains it.
struct NonFiniteError : Error {
  using Error::Error;
};

namespace detail {
extern bool g_enabled;
}
inline bool enabled() { return detail::g_enabled; }

void enable(const Config& config);
void disable();
const Config& config();
// The training step the next ops belong to (apps call it once per step).
void set_step(int64_t step);
int64_t step();
// Training or evaluation; PhaseScope sets it for a scope (the validation pass).
void set_phase(Phase phase);
Phase phase();
class PhaseScope {
 public:
  explicit PhaseScope(Phase phase);
  ~PhaseScope();
  PhaseScope(const PhaseScope&) = delete;
  PhaseScope& operator=(const PhaseScope&) = delete;

 private:
  Phase previous_;
};
// The state_dict names of a model's parameters ("layer1.0.conv1.weight"): their gradients' trace
// lines then name the parameter and its module, and --dump MODULE writes them.
void name_parameters(const std::vector<std::pair<std::string, Tensor>>& named);

// Module paths: Module::forward opens a scope named after the module.
class ModuleScope {
 public:
  explicit ModuleScope(const std::string& name);
  ~ModuleScope();
  ModuleScope(const ModuleScope&) = delete;
  ModuleScope& operator=(const ModuleScope&) = delete;
};
std::string current_module_path();

// Marks the engine running a backward rule: the ops a rule is written with are part of that
// node's backward line, not forward lines of their own.
class BackwardScope {
 public:
  BackwardScope();
  ~BackwardScope();
  BackwardScope(const BackwardScope&) = delete;
  BackwardScope& operator=(const BackwardScope&) = delete;
};

// A note (key, value) for the next trace line of this thread: ops add what matters about them.
void note(const std::string& key, double value);

// Hooks (called only when enabled()).
void on_forward(const char* op, const std::vector<Tensor>& outputs, const std::vector<Tensor>& inputs,
                const std::vector<Saved>& saved);
void on_backward(const Node& node, const std::vector<Tensor>& grad_outputs, const std::vector<Tensor>& grad_inputs);

// --dump support: identity ops around a dumped module's input and output whose backward writes
// the gradients; the forward values are written directly. x itself when nothing is dumped.
Tensor probe_module_input(const Tensor& x);
Tensor probe_module(const Tensor& y);

// Statistics of one tensor, as the trace reports them.
struct TensorStats {
  double min = 0, max = 0, mean = 0, l2 = 0;
  int64_t nan = 0, inf = 0, count = 0;
};
TensorStats tensor_stats(const Tensor& t);

}  // namespace dsvd::audit
