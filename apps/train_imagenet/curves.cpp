#include "apps/train_imagenet/curves.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "tensor/error.h"

namespace dsvd::train {
namespace {

std::vector<std::string> split_csv(const std::string& line) {
  std::vector<std::string> cells;
  std::stringstream s(line);
  std::string cell;
  while (std::getline(s, cell, ',')) cells.push_back(cell);
  if (!line.empty() && line.back() == ',') cells.push_back("");
  return cells;
}

std::string number(double v) {
  char b[32];
  std::snprintf(b, sizeof b, "%.2f", v);
  return b;
}

std::string label(double v) {
  char b[32];
  std::snprintf(b, sizeof b, "%.4g", v);
  return b;
}

struct Series {
  const char* name;
  const char* colour;
  std::vector<std::pair<double, double>> points;
};

void panel(std::ostringstream& svg, int index, const char* title, const std::vector<Series>& series, double x0, double x1) {
  const double dx = index * kPanelWidth;
  double lo = INFINITY, hi = -INFINITY;
  for (const auto& s : series)
    for (const auto& [x, y] : s.points) lo = std::min(lo, y), hi = std::max(hi, y);
  if (!(lo <= hi)) lo = 0, hi = 1;
  if (hi - lo < 1e-12) lo -= 0.5, hi += 0.5;
  auto px = [&](double x) { return dx + kLeft + (x1 > x0 ? (x - x0) / (x1 - x0) : 0.5) * kPlotWidth; };
  auto py = [&](double y) { return kTop + kPlotHeight - (y - lo) / (hi - lo) * kPlotHeight; };
  svg << "<g class=\"panel\" id=\"" << title << "\">\n";
  svg << "<text x=\"" << number(dx + kLeft) << "\" y=\"" << number(kTop - 14) << "\" font-weight=\"bold\">" << title
      << "</text>\n";
  svg << "<rect x=\"" << number(dx + kLeft) << "\" y=\"" << number(kTop) << "\" width=\"" << number(kPlotWidth)
      << "\" height=\"" << number(kPlotHeight) << "\" fill=\"none\" stroke=\"#888\"/>\n";
  for (int t = 0; t <= 4; ++t) {  // y ticks
    const double v = lo + (hi - lo) * t / 4.0;
    svg << "<text x=\"" << number(dx + kLeft - 6) << "\" y=\"" << number(py(v) + 4)
        << "\" text-anchor=\"end\" font-size=\"11\">" << label(v) << "</text>\n";
  }
  svg << "<text x=\"" << number(dx + kLeft) << "\" y=\"" << number(kTop + kPlotHeight + 16) << "\" font-size=\"11\">epoch "
      << label(x0) << "</text>\n";
  svg << "<text x=\"" << number(dx + kLeft + kPlotWidth) << "\" y=\"" << number(kTop + kPlotHeight + 16)
      << "\" text-anchor=\"end\" font-size=\"11\">epoch " << label(x1) << "</text>\n";
  int legend = 0;
  for (const auto& s : series) {
    if (s.points.empty()) continue;
    svg << "<polyline class=\"" << s.name << "\" fill=\"none\" stroke=\"" << s.colour << "\" stroke-width=\"2\" points=\"";
    for (size_t i = 0; i < s.points.size(); ++i)
      svg << (i ? " " : "") << number(px(s.points[i].first)) << "," << number(py(s.points[i].second));
    svg << "\"/>\n";
    for (const auto& [x, y] : s.points)
      svg << "<circle cx=\"" << number(px(x)) << "\" cy=\"" << number(py(y)) << "\" r=\"2.5\" fill=\"" << s.colour << "\"/>\n";
    svg << "<text x=\"" << number(dx + kLeft + 8) << "\" y=\"" << number(kTop + 16 + 14 * legend++) << "\" fill=\""
        << s.colour << "\" font-size=\"12\">" << s.name << "</text>\n";
  }
  svg << "</g>\n";
}

}  // namespace

std::vector<CurvePoint> read_curve_points(const std::string& metrics_csv) {
  std::ifstream in(metrics_csv);
  DSVD_CHECK(in.good(), "cannot read ", metrics_csv);
  std::string line;
  std::getline(in, line);
  const std::vector<std::string> header = split_csv(line);
  auto column = [&](const char* name) {
    auto it = std::find(header.begin(), header.end(), name);
    DSVD_CHECK(it != header.end(), metrics_csv, ": no column '", name, "'");
    return size_t(it - header.begin());
  };
  const size_t epoch = column("epoch"), tl = column("train_loss"), tt = column("train_top1"), vl = column("val_loss"),
               vt = column("val_top1");
  std::vector<CurvePoint> points;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    const auto cells = split_csv(line);
    DSVD_CHECK(cells.size() == header.size(), metrics_csv, ": a row of ", cells.size(), " cells for ", header.size(),
               " columns");
    CurvePoint p;
    p.epoch = std::stod(cells[epoch]);
    p.train_loss = std::stod(cells[tl]);
    p.train_top1 = std::stod(cells[tt]);
    p.has_val = !cells[vl].empty() && !cells[vt].empty();
    if (p.has_val) p.val_loss = std::stod(cells[vl]), p.val_top1 = std::stod(cells[vt]);
    points.push_back(p);
  }
  return points;
}

std::string curves_svg(const std::vector<CurvePoint>& points) {
  Series train_loss{"train loss", "#1f77b4", {}}, val_loss{"val loss", "#d62728", {}};
  Series train_top1{"train top-1", "#1f77b4", {}}, val_top1{"val top-1", "#d62728", {}};
  double x0 = INFINITY, x1 = -INFINITY;
  for (const auto& p : points) {
    x0 = std::min(x0, p.epoch), x1 = std::max(x1, p.epoch);
    train_loss.points.emplace_back(p.epoch, p.train_loss);
    train_top1.points.emplace_back(p.epoch, p.train_top1);
    if (p.has_val) {
      val_loss.points.emplace_back(p.epoch, p.val_loss);
      val_top1.points.emplace_back(p.epoch, p.val_top1);
    }
  }
  if (points.empty()) x0 = 0, x1 = 1;
  std::ostringstream svg;
  svg << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << number(2 * kPanelWidth) << "\" height=\""
      << number(kTop + kPlotHeight + 40) << "\" font-family=\"sans-serif\">\n";
  svg << "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
  panel(svg, 0, "loss", {train_loss, val_loss}, x0, x1);
  panel(svg, 1, "top-1 (%)", {train_top1, val_top1}, x0, x1);
  svg << "</svg>\n";
  return svg.str();
}

void write_curves(const std::string& metrics_csv, const std::string& svg_path) {
  const std::string text = curves_svg(read_curve_points(metrics_csv));
  const std::string temporary = svg_path + ".tmp";
  {
    std::ofstream out(temporary, std::ios::trunc);
    DSVD_CHECK(out.good(), "cannot write ", temporary);
    out << text;
    DSVD_CHECK(out.good(), "cannot write ", temporary);
  }
  std::filesystem::rename(temporary, svg_path);
}

}  // namespace dsvd::train
