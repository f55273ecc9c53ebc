// Work on many tensors in a few launches (the SGD update, the gradient-list ops): a table of up to
// Capacity entries travels as the kernel's argument (kernel arguments hold 4 KB) and block row y
// of the grid works on entry y, so a ResNet-50's 161 parameters take a handful of launches
// instead of one or more each.
#pragma once
#include <algorithm>
#include <cstdint>
#include <vector>

namespace dsvd::cuda {

// Walks `items` in order: add(slot, item) writes the item into slot `slot` of the caller's table
// and returns its element count, or -1 when the item is not for these launches (another dtype, no
// elements); launch(count, longest) runs the table's first `count` entries, `longest` elements at
// most, each time the table is full and once at the end.
template <int Capacity, typename Item, typename Add, typename Launch>
void in_tables(const std::vector<Item>& items, Add add, Launch launch) {
  int count = 0;
  int64_t longest = 0;
  for (const Item& item : items) {
    const int64_t n = add(count, item);
    if (n < 0) continue;
    longest = std::max(longest, n);
    if (++count == Capacity) {
      launch(count, longest);
      count = 0;
      longest = 0;
    }
  }
  if (count > 0) launch(count, longest);
}

}  // namespace dsvd::cuda
