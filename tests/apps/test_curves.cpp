// OUT/curves.svg (apps/train_imagenet/curves.h): the points of each line sit where the panel's
// linear maps put the metrics' values, the val lines are left out without validation, and a bad
// metrics file is named.
#include <filesystem>
#include <fstream>
#include <regex>

#include "apps/train_imagenet/curves.h"
#include "tests/test_util.h"

using namespace dsvd;
using namespace dsvd::train;

namespace {

// The (x, y) points of the polyline of class `name`.
std::vector<std::pair<double, double>> polyline(const std::string& svg, const std::string& name) {
  std::smatch m;
  const std::regex line("<polyline class=\"" + name + "\"[^>]*points=\"([^\"]*)\"");
  if (!std::regex_search(svg, m, line)) return {};
  std::vector<std::pair<double, double>> out;
  std::stringstream s(m[1].str());
  std::string pair;
  while (s >> pair) {
    const size_t comma = pair.find(',');
    out.emplace_back(std::stod(pair.substr(0, comma)), std::stod(pair.substr(comma + 1)));
  }
  return out;
}

std::string write_metrics(const std::string& rows) {
  const std::string path = std::filesystem::temp_directory_path() / "dsvd_curves_metrics.csv";
  std::ofstream(path) << "epoch,lr,train_loss,train_top1,val_loss,val_top1,val_top5,seconds\n" << rows;
  return path;
}

}  // namespace

TEST_CASE("curves: each point is where the panel's linear maps put its value") {
  const std::string csv = write_metrics("0,0.1,2.0,40,1.5,50,90,1\n1,0.1,1.0,70,1.25,60,95,1\n2,0.01,0.5,80,1.0,75,97,1\n");
  const std::string svg = curves_svg(read_curve_points(csv));
  auto train_loss = polyline(svg, "train loss"), val_loss = polyline(svg, "val loss");
  auto train_top1 = polyline(svg, "train top-1"), val_top1 = polyline(svg, "val top-1");
  REQUIRE(train_loss.size() == 3);
  REQUIRE(val_loss.size() == 3);
  REQUIRE(train_top1.size() == 3);
  REQUIRE(val_top1.size() == 3);
  // Loss panel: y from [0.5, 2.0] onto [kTop + kPlotHeight, kTop]; x from epochs [0, 2].
  auto y_loss = [](double v) { return kTop + kPlotHeight - (v - 0.5) / 1.5 * kPlotHeight; };
  const double losses[3] = {2.0, 1.0, 0.5}, val_losses[3] = {1.5, 1.25, 1.0};
  for (int i = 0; i < 3; ++i) {
    CHECK(train_loss[size_t(i)].first == doctest::Approx(kLeft + i * kPlotWidth / 2).epsilon(1e-4));
    CHECK(train_loss[size_t(i)].second == doctest::Approx(y_loss(losses[i])).epsilon(1e-4));
    CHECK(val_loss[size_t(i)].second == doctest::Approx(y_loss(val_losses[i])).epsilon(1e-4));
  }
  // Top-1 panel, shifted by one panel width: y from [40, 80].
  CHECK(train_top1[0].first == doctest::Approx(kPanelWidth + kLeft));
  CHECK(train_top1[0].second == doctest::Approx(kTop + kPlotHeight));  // 40 %, the minimum
  CHECK(train_top1[2].second == doctest::Approx(kTop));                 // 80 %, the maximum
  CHECK(val_top1[1].second == doctest::Approx(kTop + kPlotHeight - (60.0 - 40) / 40 * kPlotHeight).epsilon(1e-4));
  // Without validation (empty val columns) only the train lines are drawn.
  const std::string no_val = curves_svg(read_curve_points(write_metrics("0,0.1,2.0,40,,,,1\n1,0.1,1.0,70,,,,1\n")));
  CHECK(polyline(no_val, "train loss").size() == 2);
  CHECK(polyline(no_val, "val loss").empty());
  CHECK_THROWS_WITH_AS(read_curve_points(write_metrics("0,0.1,2.0\n")), doctest::Contains("a row of 3 cells for 8 columns"),
                       Error);
}
