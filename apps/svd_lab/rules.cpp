// svd_lab rules: the table of matrix square-root rules (ops/matfn/sqrt_rule.h) as a student reads
// it: each rule's forward, the form of its backward, the options it reads, where it repairs, its
// file and one line of what it does.
#include "apps/svd_lab/lab.h"
#include "apps/svd_lab/table.h"
#include "ops/matfn/sqrt_rule.h"

namespace dsvd::lab {
namespace {

std::string joined(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& item : items) out += (out.empty() ? "" : " ") + item;
  return out.empty() ? "-" : out;
}

}  // namespace

int command_rules(const CommandLine& cli) {
  const Format format = format_option(cli);
  Table t({{"rule", "%s"}, {"forward", "%s"}, {"backward", "%s"}, {"options", "%s"}, {"repairs", "%s"},
           {"file", "%s"}, {"summary", "%s"}});
  for (const SqrtRule* rule : sqrt_rules()) {
    std::string backward = rule->k_builder ? (rule->fix_k ? "K step, fixed K" : "K step") : "its own";
    t.add({std::string(rule->name), std::string(rule->uses_eigendecomposition ? "eig" : "no eig"), backward,
           joined(rule->options), joined(rule->repair_sites), std::string(rule->file), std::string(rule->summary)});
  }
  t.print(format);
  return 0;
}

std::string rule_names() {
  std::string out;
  for (const SqrtRule* rule : sqrt_rules()) out += (out.empty() ? "" : " ") + std::string(rule->name);
  return out;
}

}  // namespace dsvd::lab
