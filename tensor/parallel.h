// parallel_for: the one OpenMP loop helper. Kernels call it instead of writing pragmas, so a loop
// body may sit inside the dtype-dispatch lambdas (a #pragma cannot appear in a macro argument).
// Each index is handled by exactly one thread; nested calls run serially.
#pragma once
#include <cstdint>

#include <omp.h>

namespace dsvd {

constexpr int64_t kParallelGrain = 1 << 15;  // elements below which threading costs more than it gains

template <typename F>
void parallel_for(int64_t begin, int64_t end, bool worth_threads, F&& body) {
  if (!worth_threads || end - begin < 2 || omp_in_parallel() || omp_get_max_threads() == 1) {
    for (int64_t i = begin; i < end; ++i) body(i);
    return;
  }
#pragma omp parallel for schedule(static)
  for (int64_t i = begin; i < end; ++i) body(i);
}

}  // namespace dsvd
