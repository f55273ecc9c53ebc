// DSVD_CPU_MULTIVERSION: a hot CPU loop compiled three times — for AVX-512, AVX2 and baseline
// x86-64 — with the CPU's best chosen once, when the program loads (GCC/Clang target_clones,
// an ifunc). dsvd builds for baseline x86-64 so that one binary runs on any x86-64 machine;
// without this its own loops (batch norm's float64 sums, say) would use two-double SSE2 vectors
// on a machine with eight-double AVX-512 ones.
//
// The clones give the same bits: the build turns floating-point contraction (FMA) off
// (-ffp-contract=off in meson.build; g++ contracts by default, even under -std=c++20), and the
// loops write their summation order out (eight float64 lanes combined in a fixed order), so vector
// width changes how many lanes advance per instruction, not the result.
// Mark the function that holds the whole loop (one channel, one row), so that the lambdas and
// small helpers it calls are inlined into each clone.
#pragma once

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__)) && !defined(DSVD_NO_MULTIVERSION)
#define DSVD_CPU_MULTIVERSION __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define DSVD_CPU_MULTIVERSION
#endif
