// --audit[=trace|stop-on-nonfinite|trace,stop-on-nonfinite] for the apps that have no richer audit
// options (svd_lab, predict): enables the audit mode with its files under DIR/audit/.
#pragma once
#include <sstream>

#include "apps/cli.h"
#include "autograd/audit.h"

namespace dsvd {

// The value of --audit: "1" (the bare flag) means trace.
inline void parse_audit_modes(std::string modes, bool* trace, bool* stop_on_nonfinite) {
  if (modes == "1") modes = "trace";
  std::stringstream parts(modes);
  for (std::string m; std::getline(parts, m, ',');) {
    if (m == "trace") *trace = true;
    else if (m == "stop-on-nonfinite") *stop_on_nonfinite = true;
    else fail("--audit: unknown mode '", m, "' (trace, stop-on-nonfinite)");
  }
}

inline void enable_audit_from(const CommandLine& cli, const std::string& dir) {
  if (!cli.has("audit")) return;
  audit::Config c;
  c.dir = dir;
  parse_audit_modes(cli.get("audit"), &c.trace, &c.stop_on_nonfinite);
  audit::enable(c);
}

}  // namespace dsvd
