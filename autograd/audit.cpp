#include "autograd/audit.h"

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <mutex>
#include <sstream>

#include "autograd/function.h"
#include "autograd/node.h"
#include "tensor/npy.h"

namespace dsvd::audit {

namespace detail {
bool g_enabled = false;
}

namespace {

struct State {
  Config config;
  FILE* trace = nullptr;
  FILE* index = nullptr;
  uint64_t seq = 0;
  int64_t step = 0;
  Phase phase = Phase::Train;
  std::map<const TensorImpl*, std::string> parameter_names;
  std::mutex mutex;
};

State& state() {
  static State* s = new State();  // never destroyed: ops may run during static destruction
  return *s;
}

thread_local std::vector<std::string> module_stack;
thread_local std::vector<std::pair<std::string, double>> pending_notes;
thread_local int backward_depth = 0;
// Set while the auditor itself runs ops (e.g. contiguous() before writing a dump): those ops are
// not audited, which also keeps the auditor from re-entering its own lock.
thread_local bool inside_auditor = false;

struct AuditorSection {
  bool previous = inside_auditor;
  AuditorSection() { inside_auditor = true; }
  ~AuditorSection() { inside_auditor = previous; }
};

std::string json_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    if (static_cast<unsigned char>(c) >= 0x20) out += c;
  }
  return out;
}

std::string number(double v) {
  if (std::isnan(v)) return "\"nan\"";
  if (std::isinf(v)) return v > 0 ? "\"inf\"" : "\"-inf\"";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.9g", v);
  return buf;
}

// The values of `t` on the CPU: itself, or a copy of a GPU tensor (which waits for the GPU).
Tensor on_host(const Tensor& t) { return t.device().is_cpu() ? t : t.detach().to(Device::cpu()); }

std::string tensor_json(const Tensor& t) {
  if (!t.defined()) return "null";
  std::ostringstream s;
  s << "{\"shape\":" << shape_str(t.sizes()) << ",\"dtype\":\"" << dtype_name(t.dtype()) << "\",\"device\":\""
    << t.device().str() << "\"";
  {
    TensorStats st = tensor_stats(t);
    s << ",\"min\":" << number(st.min) << ",\"max\":" << number(st.max) << ",\"mean\":" << number(st.mean)
      << ",\"l2\":" << number(st.l2) << ",\"nan\":" << st.nan << ",\"inf\":" << st.inf;
  }
  s << "}";
  return s.str();
}

std::string tensors_json(const std::vector<Tensor>& ts) {
  std::string out = "[";
  for (size_t i = 0; i < ts.size(); ++i) out += (i ? "," : "") + tensor_json(ts[i]);
  return out + "]";
}

bool step_selected(const Config& c, int64_t step) {
  return step >= c.first_step && step <= c.last_step && (c.every <= 1 || (step - c.first_step) % c.every == 0);
}

bool op_selected(const Config& c, const std::string& op, const std::string& module) {
  if (!c.ops.empty() && std::find(c.ops.begin(), c.ops.end(), op) == c.ops.end()) return false;
  return module.rfind(c.module_prefix, 0) == 0;
}

// A fast scan for the stop mode: x − x is 0 for finite x and NaN for NaN or ±Inf.
bool has_nonfinite(const Tensor& t) {
  if (!t.defined() || !is_floating(t.dtype())) return false;
  if (is_reduced_float(t.dtype())) {
    const TensorStats st = tensor_stats(t);
    return st.nan + st.inf > 0;
  }
  Tensor c = on_host(t).contiguous();
  const int64_t n = c.numel();
  return DSVD_DISPATCH_FLOATING(c.dtype(), "audit", [&] {
    const scalar_t* p = static_cast<const scalar_t*>(c.data_ptr());
    scalar_t acc = 0;
    for (int64_t i = 0; i < n; ++i) acc += p[i] - p[i];
    return acc != 0 || std::isnan(acc);
  });
}

std::string file_safe(const std::string& s) {
  std::string out;
  for (char c : s) out += (isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.') ? c : '_';
  return out;
}

// Writes one tensor of an op to dump/<seq>_<op>_<role>.npy and indexes it.
void dump_tensor(State& s, uint64_t seq, const std::string& op, const std::string& module, const char* direction,
                 const std::string& role, const Tensor& t) {
  if (!t.defined()) return;
  std::string name = std::to_string(seq) + "_" + file_safe(op) + "_" + file_safe(role) + ".npy";
  std::string path = s.config.dir + "/audit/dump/" + name;
  save_npy(path, on_host(t));
  if (s.index) {
    std::fprintf(s.index, "{\"seq\":%llu,\"step\":%lld,\"phase\":\"%s\",\"op\":\"%s\",\"module\":\"%s\",\"direction\":\"%s\","
                 "\"role\":\"%s\",\"file\":\"%s\",\"shape\":%s,\"dtype\":\"%s\"}\n",
                 (unsigned long long)seq, (long long)s.step, phase_name(s.phase), json_escape(op).c_str(),
                 json_escape(module).c_str(), direction,
                 json_escape(role).c_str(), name.c_str(), shape_str(t.sizes()).c_str(), dtype_name(t.dtype()));
    std::fflush(s.index);
  }
}

// Whether --dump asks for `module` at this step and phase.
bool dump_module_here(const State& s, const std::string& module) {
  if (s.config.dump_modules.empty()) return false;
  if (s.phase == Phase::Eval && !s.config.audit_eval) return false;
  if (std::find(s.config.dump_modules.begin(), s.config.dump_modules.end(), module) == s.config.dump_modules.end())
    return false;
  const auto& steps = s.config.dump_steps;
  return steps.empty() || std::find(steps.begin(), steps.end(), s.step) != steps.end();
}

std::string finiteness(const std::vector<Tensor>& ts, const char* role) {
  std::ostringstream s;
  for (size_t i = 0; i < ts.size(); ++i) {
    if (!ts[i].defined()) continue;
    TensorStats st = tensor_stats(ts[i]);
    s << (s.tellp() > 0 ? ", " : "") << role << i << " " << shape_str(ts[i].sizes());
    if (st.nan + st.inf == 0) s << " finite";
    else s << " with " << st.nan << " NaN and " << st.inf << " Inf";
  }
  return s.str();
}

void write_trace(State& s, uint64_t seq, const std::string& op, const std::string& module, const char* direction,
                 const char* in_key, const std::vector<Tensor>& in, const char* out_key, const std::vector<Tensor>& out,
                 const std::string& parameter = "") {
  std::ostringstream line;
  line << "{\"seq\":" << seq << ",\"step\":" << s.step << ",\"phase\":\"" << phase_name(s.phase) << "\",\"op\":\""
       << json_escape(op) << "\",\"module\":\"" << json_escape(module) << "\"";
  if (!parameter.empty()) line << ",\"parameter\":\"" << json_escape(parameter) << "\"";
  line << ",\"direction\":\"" << direction << "\",\"" << in_key << "\":" << tensors_json(in) << ",\"" << out_key
       << "\":" << tensors_json(out);
  if (!pending_notes.empty()) {
    line << ",\"notes\":{";
    for (size_t i = 0; i < pending_notes.size(); ++i)
      line << (i ? "," : "") << "\"" << json_escape(pending_notes[i].first) << "\":" << number(pending_notes[i].second);
    line << "}";
  }
  line << "}\n";
  std::fputs(line.str().c_str(), s.trace);
  std::fflush(s.trace);  // a crash keeps everything written before it
}

}  // namespace

TensorStats tensor_stats(const Tensor& t) {
  TensorStats st;
  if (!t.defined()) return st;
  Tensor c = on_host(t).contiguous();
  st.count = c.numel();
  bool first = true;
  double sum = 0, sq = 0;
  DSVD_DISPATCH_STORAGE(c.dtype(), "audit", [&] {
    const scalar_t* p = static_cast<const scalar_t*>(c.data_ptr());
    for (int64_t i = 0; i < st.count; ++i) {
      const double x = value_cast<double>(p[i]);
      if (std::isnan(x)) { ++st.nan; continue; }
      if (std::isinf(x)) { ++st.inf; continue; }
      if (first || x < st.min) st.min = x;
      if (first || x > st.max) st.max = x;
      first = false;
      sum += x;
      sq += x * x;
    }
  });
  const int64_t finite = st.count - st.nan - st.inf;
  st.mean = finite ? sum / double(finite) : 0;
  st.l2 = std::sqrt(sq);
  return st;
}

void enable(const Config& config) {
  State& s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  DSVD_CHECK(!config.dir.empty(), "audit: no output folder given");
  std::filesystem::create_directories(config.dir + "/audit/dump");
  if (s.trace) std::fclose(s.trace);
  if (s.index) std::fclose(s.index);
  s.config = config;
  s.trace = config.trace ? std::fopen((config.dir + "/audit/trace.jsonl").c_str(), "w") : nullptr;
  DSVD_CHECK(!config.trace || s.trace, "audit: cannot write ", config.dir, "/audit/trace.jsonl");
  s.index = std::fopen((config.dir + "/audit/dump/index.jsonl").c_str(), "a");
  s.seq = 0;
  detail::g_enabled = true;
}

void disable() {
  State& s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  detail::g_enabled = false;
  if (s.trace) std::fclose(s.trace);
  if (s.index) std::fclose(s.index);
  s.trace = s.index = nullptr;
}

const Config& config() { return state().config; }
void set_step(int64_t step) { state().step = step; }
int64_t step() { return state().step; }

const char* phase_name(Phase phase) { return phase == Phase::Eval ? "eval" : "train"; }
void set_phase(Phase phase) { state().phase = phase; }
Phase phase() { return state().phase; }
PhaseScope::PhaseScope(Phase phase) : previous_(audit::phase()) { set_phase(phase); }
PhaseScope::~PhaseScope() { set_phase(previous_); }

void name_parameters(const std::vector<std::pair<std::string, Tensor>>& named) {
  State& s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  for (const auto& [name, t] : named)
    if (t.defined()) s.parameter_names[t.impl().get()] = name;
}

BackwardScope::BackwardScope() { ++backward_depth; }
BackwardScope::~BackwardScope() { --backward_depth; }

ModuleScope::ModuleScope(const std::string& name) { module_stack.push_back(name); }
ModuleScope::~ModuleScope() { module_stack.pop_back(); }

std::string current_module_path() {
  std::string path;
  for (const auto& n : module_stack) {
    if (n.empty()) continue;
    path += (path.empty() ? "" : ".") + n;
  }
  return path;
}

void note(const std::string& key, double value) {
  if (enabled()) pending_notes.emplace_back(key, value);
}

void on_forward(const char* op, const std::vector<Tensor>& outputs, const std::vector<Tensor>& inputs,
                const std::vector<Saved>& saved) {
  State& s = state();
  if (inside_auditor) return;
  const std::string name = op, module = current_module_path();
  if (name == "audit_probe" || backward_depth > 0) return;
  if (s.phase == Phase::Eval && !s.config.audit_eval) return;
  AuditorSection section;
  std::lock_guard<std::mutex> lock(s.mutex);
  const uint64_t seq = s.seq++;
  if (s.config.stop_on_nonfinite) {
    bool bad = false;
    for (const auto& t : outputs) bad |= has_nonfinite(t);
    if (bad) {
      for (size_t i = 0; i < inputs.size(); ++i) dump_tensor(s, seq, name, module, "forward", "input" + std::to_string(i), inputs[i]);
      for (size_t i = 0; i < outputs.size(); ++i) dump_tensor(s, seq, name, module, "forward", "output" + std::to_string(i), outputs[i]);
      for (const auto& sv : saved) dump_tensor(s, seq, name, module, "forward", "saved_" + sv.name, sv.tensor);
      pending_notes.clear();
      std::ostringstream msg;
      msg << "non-finite value: op '" << name << "' (module '" << module << "'"
          << (module.empty() ? ", the model's top level" : "") << ", forward, " << phase_name(s.phase)
          << " phase, training step " << s.step << ", seq " << seq << ") produced " << finiteness(outputs, "output")
          << "; its inputs: " << finiteness(inputs, "input") << ". Inputs, outputs and saved tensors are in "
          << s.config.dir << "/audit/dump/ (index.jsonl lists them; they open with numpy.load).";
      throw NonFiniteError(msg.str());
    }
  }
  if (s.trace && step_selected(s.config, s.step) && op_selected(s.config, name, module))
    write_trace(s, seq, name, module, "forward", "inputs", inputs, "outputs", outputs);
  pending_notes.clear();
}

void on_backward(const Node& node, const std::vector<Tensor>& grad_outputs, const std::vector<Tensor>& grad_inputs) {
  State& s = state();
  if (inside_auditor) return;
  const std::string& name = node.name();
  if (name == "audit_probe") return;
  if (s.phase == Phase::Eval && !s.config.audit_eval) return;
  AuditorSection section;
  std::lock_guard<std::mutex> lock(s.mutex);
  const uint64_t seq = s.seq++;
  // A parameter's gradient: its name, and its module for the filters and the dump.
  std::string parameter, module = node.module_path;
  if (auto* acc = dynamic_cast<const AccumulateGrad*>(&node)) {
    auto it = s.parameter_names.find(acc->leaf().get());
    if (it != s.parameter_names.end()) {
      parameter = it->second;
      const size_t dot = parameter.rfind('.');
      module = dot == std::string::npos ? "" : parameter.substr(0, dot);
      if (dump_module_here(s, module)) {
        dump_tensor(s, seq, module, module, "backward", parameter.substr(dot + 1), Tensor(acc->leaf()).detach());
        dump_tensor(s, seq, module, module, "backward", "grad_" + parameter.substr(dot + 1), grad_outputs.at(0));
      }
    }
  }
  if (s.config.stop_on_nonfinite) {
    bool bad = false;
    for (const auto& t : grad_inputs) bad |= has_nonfinite(t);
    if (bad) {
      for (size_t i = 0; i < grad_outputs.size(); ++i)
        dump_tensor(s, seq, name, module, "backward", "grad_output" + std::to_string(i), grad_outputs[i]);
      for (size_t i = 0; i < grad_inputs.size(); ++i)
        dump_tensor(s, seq, name, module, "backward", "grad_input" + std::to_string(i), grad_inputs[i]);
      if (auto* fn = dynamic_cast<const FunctionNode*>(&node))
        for (size_t i = 0; i < fn->saved.size(); ++i)
          dump_tensor(s, seq, name, module, "backward", "saved_" + fn->saved_names[i], fn->saved[i]);
      pending_notes.clear();
      std::ostringstream msg;
      msg << "non-finite value: the backward of op '" << name << "'" << (parameter.empty() ? "" : " (parameter '" + parameter + "')")
          << " (module '" << module << "'" << (module.empty() ? ", the model's top level" : "") << ", "
          << phase_name(s.phase) << " phase, training step " << s.step << ", seq " << seq
          << ") produced " << finiteness(grad_inputs, "gradient for input ") << " from incoming "
          << finiteness(grad_outputs, "gradient of output ") << ". The gradients and the op's saved tensors are in "
          << s.config.dir << "/audit/dump/ (index.jsonl lists them).";
      throw NonFiniteError(msg.str());
    }
  }
  if (s.trace && step_selected(s.config, s.step) && op_selected(s.config, name, module))
    write_trace(s, seq, name, module, "backward", "grad_outputs", grad_outputs, "grad_inputs", grad_inputs, parameter);
  pending_notes.clear();
}

namespace {

bool dump_here(const State& s) { return dump_module_here(s, current_module_path()); }

// Identity whose backward writes the incoming gradient under `role`.
Tensor probe(const Tensor& x, const std::string& role) {
  State& s = state();
  const std::string module = current_module_path();
  uint64_t seq;
  {
    AuditorSection section;
    std::lock_guard<std::mutex> lock(s.mutex);
    seq = s.seq++;
    dump_tensor(s, seq, module, module, "forward", role, x);
  }
  Tensor view = make_view(x, x.sizes(), x.strides(), x.offset());
  return record_op("audit_probe", {view}, {x}, {}, [seq, module, role](const std::vector<Tensor>& g, FunctionNode&) {
    State& st = state();
    AuditorSection section;
    std::lock_guard<std::mutex> lock(st.mutex);
    dump_tensor(st, seq, module, module, "backward", "grad_" + role, g[0]);
    return std::vector<Tensor>{g[0]};
  })[0];
}

}  // namespace

Tensor probe_module_input(const Tensor& x) {
  return dump_here(state()) ? probe(x, "input") : x;
}

Tensor probe_module(const Tensor& y) {
  return dump_here(state()) ? probe(y, "output") : y;
}

}  // namespace dsvd::audit
