// svd_lab's results as a table: printed aligned for reading, or as CSV or JSON for a plot
// (--format table|csv|json). Cells are numbers (printed with a column's printf format in a
// table, full precision in CSV and JSON; NaN shown as NaN) or text.
#pragma once
#include <cmath>
#include <cstdio>
#include <string>
#include <variant>
#include <vector>

#include "apps/cli.h"
#include "apps/svd_lab/json_writer.h"

namespace dsvd::lab {

enum class Format { Table, Csv, Json };

inline Format format_option(const CommandLine& cli) {
  const std::string f = cli.get("format", "table");
  if (f == "table") return Format::Table;
  if (f == "csv") return Format::Csv;
  if (f == "json") return Format::Json;
  fail("--format must be table, csv or json, got '", f, "'");
}

class Table {
 public:
  using Cell = std::variant<double, std::string>;
  struct Column {
    std::string name;
    const char* format = "%14.6g";  // for numbers in the table form (its width sets the column's)
  };
  explicit Table(std::vector<Column> columns) : columns_(std::move(columns)) {}
  void add(std::vector<Cell> row) {
    DSVD_CHECK(row.size() == columns_.size(), "table: a row of ", row.size(), " cells for ", columns_.size(), " columns");
    rows_.push_back(std::move(row));
  }

  void print(Format format) const {
    if (format == Format::Csv) {
      for (size_t c = 0; c < columns_.size(); ++c) std::printf("%s%s", c ? "," : "", columns_[c].name.c_str());
      std::printf("\n");
      for (const auto& row : rows_) {
        for (size_t c = 0; c < row.size(); ++c) std::printf("%s%s", c ? "," : "", exact(row[c]).c_str());
        std::printf("\n");
      }
    } else if (format == Format::Json) {
      JsonWriter j;
      j.begin_array();
      for (const auto& row : rows_) {
        j.begin_object();
        for (size_t c = 0; c < row.size(); ++c) {
          j.key(columns_[c].name);
          if (const double* v = std::get_if<double>(&row[c])) j.value(*v);
          else j.value(std::get<std::string>(row[c]));
        }
        j.end_object();
      }
      j.end_array();
      std::printf("%s\n", j.str().c_str());
    } else {
      // Numbers align right, text left (the first column always left), by characters, not bytes.
      auto left = [&](size_t c) { return c == 0 || (!rows_.empty() && std::holds_alternative<std::string>(rows_[0][c])); };
      for (size_t c = 0; c < columns_.size(); ++c)
        std::printf("%s%s", c ? " " : "", padded(columns_[c].name, width(c), left(c)).c_str());
      std::printf("\n");
      for (const auto& row : rows_) {
        for (size_t c = 0; c < row.size(); ++c)
          std::printf("%s%s", c ? " " : "", padded(shown(row[c], c), width(c), left(c)).c_str());
        std::printf("\n");
      }
    }
  }

 private:
  // UTF-8 text (λ, √, K̃) counted in code points.
  static int characters(const std::string& s) {
    int n = 0;
    for (unsigned char ch : s) n += (ch & 0xC0) != 0x80;
    return n;
  }
  static std::string padded(const std::string& s, int width, bool left) {
    const std::string fill(size_t(std::max(0, width - characters(s))), ' ');
    return left ? s + fill : fill + s;
  }
  int width(size_t c) const {
    int w = characters(columns_[c].name);
    for (const auto& row : rows_) w = std::max(w, characters(shown(row[c], c)));
    return w;
  }
  std::string shown(const Cell& cell, size_t c) const {
    if (const auto* s = std::get_if<std::string>(&cell)) return *s;
    const double v = std::get<double>(cell);
    if (std::isnan(v)) return "NaN";
    char buf[64];
    std::snprintf(buf, sizeof buf, columns_[c].format, v);
    std::string out = buf;
    out.erase(0, out.find_first_not_of(' '));
    return out;
  }
  static std::string exact(const Cell& cell) {
    if (const auto* s = std::get_if<std::string>(&cell)) return *s;
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.17g", std::get<double>(cell));
    return buf;
  }

  std::vector<Column> columns_;
  std::vector<std::vector<Cell>> rows_;
};

}  // namespace dsvd::lab
