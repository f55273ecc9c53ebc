#include "ops/precision.h"

#include <atomic>

namespace dsvd {
namespace {
std::atomic<bool> g_tf32_matmul{false};
std::atomic<bool> g_tf32_conv{true};
}  // namespace

void set_tf32_matmul(bool on) { g_tf32_matmul = on; }
bool tf32_matmul() { return g_tf32_matmul; }
void set_tf32_conv(bool on) { g_tf32_conv = on; }
bool tf32_conv() { return g_tf32_conv; }

}  // namespace dsvd
