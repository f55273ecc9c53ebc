#include "serialization/zip_reader.h"

#include <zlib.h>

#include "tensor/error.h"

namespace dsvd::serialization {
namespace {

constexpr uint32_t kLocalHeader = 0x04034b50, kCentralHeader = 0x02014b50, kEnd = 0x06054b50;
constexpr uint32_t kEnd64 = 0x06064b50, kEnd64Locator = 0x07064b50;

struct Reader {
  const std::string& in;
  const std::string& what;
  uint64_t read(uint64_t at, int n) const {
    DSVD_CHECK(at <= in.size() && uint64_t(n) <= in.size() - at, what, ": zip structure at byte ", at,
               " runs past the end of the file (", in.size(), " bytes)");
    uint64_t v = 0;
    for (int i = 0; i < n; ++i) v |= uint64_t(static_cast<unsigned char>(in[size_t(at) + size_t(i)])) << (8 * i);
    return v;
  }
};

}  // namespace

bool looks_like_zip(const std::string& bytes) {
  return bytes.size() >= 4 && Reader{bytes, bytes}.read(0, 4) == kLocalHeader;
}

std::map<std::string, ZipEntry> read_zip_directory(const std::string& in, const std::string& what) {
  const Reader r{in, what};
  // The end-of-central-directory record: in the last 22 + 65535 bytes (its comment may follow).
  DSVD_CHECK(in.size() >= 22, what, ": too short to be a zip file");
  uint64_t end = in.size() - 22;
  const uint64_t lowest = in.size() > 22 + 65535 ? in.size() - 22 - 65535 : 0;
  while (r.read(end, 4) != kEnd) {
    DSVD_CHECK(end > lowest, what, ": no end-of-central-directory record (not a zip file, or truncated)");
    --end;
  }
  uint64_t entries = r.read(end + 10, 2), directory_size = r.read(end + 12, 4), directory = r.read(end + 16, 4);
  if (entries == 0xffff || directory_size == 0xffffffff || directory == 0xffffffff) {
    DSVD_CHECK(end >= 20 && r.read(end - 20, 4) == kEnd64Locator, what, ": zip64 sizes without a zip64 locator");
    const uint64_t record = r.read(end - 20 + 8, 8);
    DSVD_CHECK(r.read(record, 4) == kEnd64, what, ": the zip64 locator points at byte ", record,
               ", which is not a zip64 end record");
    entries = r.read(record + 32, 8);
    directory_size = r.read(record + 40, 8);
    directory = r.read(record + 48, 8);
  }
  DSVD_CHECK(directory <= in.size() && directory_size <= in.size() - directory, what,
             ": the central directory (", directory_size, " bytes at ", directory, ") lies outside the file");
  DSVD_CHECK(entries <= directory_size / 46, what, ": ", entries, " entries cannot fit a central directory of ",
             directory_size, " bytes");
  std::map<std::string, ZipEntry> out;
  uint64_t at = directory;
  for (uint64_t e = 0; e < entries; ++e) {
    DSVD_CHECK(r.read(at, 4) == kCentralHeader, what, ": central directory entry ", e, " at byte ", at, " is malformed");
    const uint64_t method = r.read(at + 10, 2), crc = r.read(at + 16, 4);
    uint64_t compressed = r.read(at + 20, 4), size = r.read(at + 24, 4);
    const uint64_t name_length = r.read(at + 28, 2), extra_length = r.read(at + 30, 2), comment = r.read(at + 32, 2);
    uint64_t local = r.read(at + 42, 4);
    DSVD_CHECK(name_length + extra_length + comment <= in.size() - at - 46, what, ": central directory entry ", e,
               " runs past the end of the file");
    const std::string name = in.substr(size_t(at + 46), size_t(name_length));
    // The zip64 extra field (id 1) holds the 64-bit values of the fields set to 0xffffffff, in order.
    for (uint64_t x = at + 46 + name_length; x + 4 <= at + 46 + name_length + extra_length;) {
      const uint64_t id = r.read(x, 2), length = r.read(x + 2, 2);
      DSVD_CHECK(x + 4 + length <= at + 46 + name_length + extra_length, what, ": entry '", name,
                 "' has a malformed extra field");
      if (id == 1) {
        uint64_t y = x + 4;
        auto take64 = [&](uint64_t& field) {
          if (field != 0xffffffff) return;
          DSVD_CHECK(y + 8 <= x + 4 + length, what, ": entry '", name, "' has a short zip64 field");
          field = r.read(y, 8);
          y += 8;
        };
        take64(size);
        take64(compressed);
        take64(local);
      }
      x += 4 + length;
    }
    DSVD_CHECK(method == 0, what, ": entry '", name, "' is compressed (method ", method,
               "); torch.save writes stored entries only");
    DSVD_CHECK(compressed == size, what, ": entry '", name, "' is stored with different sizes (", compressed, " and ",
               size, ")");
    DSVD_CHECK(r.read(local, 4) == kLocalHeader, what, ": entry '", name, "' points at byte ", local,
               ", which is not a local header");
    const uint64_t data = local + 30 + r.read(local + 26, 2) + r.read(local + 28, 2);
    DSVD_CHECK(data <= in.size() && size <= in.size() - data, what, ": entry '", name, "' (", size, " bytes at ", data,
               ") runs past the end of the file (", in.size(), " bytes)");
    const uLong actual = crc32_z(crc32_z(0L, Z_NULL, 0), reinterpret_cast<const Bytef*>(in.data() + data), size_t(size));
    DSVD_CHECK(actual == crc, what, ": entry '", name, "' fails its CRC-32 check (the file is corrupted)");
    DSVD_CHECK(out.emplace(name, ZipEntry{data, size}).second, what, ": entry '", name, "' appears twice");
    at += 46 + name_length + extra_length + comment;
  }
  return out;
}

}  // namespace dsvd::serialization
