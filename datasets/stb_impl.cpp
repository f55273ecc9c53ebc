// The one translation unit that compiles stb_image and stb_image_write (header-only libraries
// from Debian's libstb-dev).
#include <cstring>

// stb_image copies zero bytes from or to a null pointer in places (e.g. a PNG with an empty
// IDAT chunk: memcpy(NULL, p, 0)), which C and C++ leave undefined; found by fuzzing
// (tests/fixtures/fuzz/). Its memcpy calls go through this guard. <cstring> is included first, so
// the macro does not reach the C library's own declaration.
static inline void* dsvd_stb_memcpy(void* dst, const void* src, size_t n) { return n ? std::memcpy(dst, src, n) : dst; }
#define memcpy(dst, src, n) dsvd_stb_memcpy(dst, src, n)

#define STB_IMAGE_IMPLEMENTATION
#define STBI_NO_STDIO  // dsvd reads files itself, so errors name them
#define STBI_FAILURE_USERMSG
#define STB_IMAGE_WRITE_IMPLEMENTATION
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#pragma GCC diagnostic ignored "-Wsign-compare"
#pragma GCC diagnostic ignored "-Wunused-but-set-variable"
#include <stb/stb_image.h>
#include <stb/stb_image_write.h>
#pragma GCC diagnostic pop
