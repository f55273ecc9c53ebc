// The one translation unit that compiles stb_image and stb_image_write (header-only libraries
// from Debian's libstb-dev).
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
