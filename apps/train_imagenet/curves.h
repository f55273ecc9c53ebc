// Training curves as a picture, with no plotting dependency: OUT/curves.svg, redrawn from
// metrics.csv after every epoch (the reference project plots its curves every epoch too). Two
// panels side by side: loss, and top-1 accuracy in %, each with the train and the val line (the
// val line is left out of a run without validation). Rows of a stopped epoch count as their epoch.
#pragma once
#include <string>
#include <vector>

namespace dsvd::train {

struct CurvePoint {
  double epoch = 0;
  double train_loss = 0, train_top1 = 0;
  double val_loss = 0, val_top1 = 0;
  bool has_val = false;
};

// The rows of a metrics.csv (by column name, so new columns do not break it).
std::vector<CurvePoint> read_curve_points(const std::string& metrics_csv);
std::string curves_svg(const std::vector<CurvePoint>& points);
// Writes curves_svg of metrics_csv's rows to svg_path (through a temporary file and a rename).
void write_curves(const std::string& metrics_csv, const std::string& svg_path);

// The plot's geometry, for readers of the picture (and its test): each panel maps x from the
// first to the last epoch onto [kLeft, kLeft + kPlotWidth] and y from its range onto
// [kTop + kPlotHeight, kTop] (panel p shifted right by p · kPanelWidth).
constexpr double kPanelWidth = 420, kLeft = 60, kTop = 40, kPlotWidth = 330, kPlotHeight = 240;

}  // namespace dsvd::train
