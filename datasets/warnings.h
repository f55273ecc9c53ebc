// Warnings from the data pipeline (an empty class folder, a corrupt image skipped): printed to
// stderr as "warning: ..." and kept, so that a caller (a test, the end-of-epoch report) can read
// what was said.
#pragma once
#include <string>
#include <vector>

namespace dsvd {

void dataset_warning(const std::string& message);
// Returns and clears the warnings issued so far.
std::vector<std::string> take_dataset_warnings();
// Whether warnings are also printed to stderr (default true).
void set_dataset_warnings_printed(bool printed);

}  // namespace dsvd
