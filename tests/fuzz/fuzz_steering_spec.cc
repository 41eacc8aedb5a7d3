// What people type: FILE@LAYERS:COEF steering specs (add / ablate / clamp), layer lists, hook
// site names, position selectors and capture positions. One text per line of the input; each
// is given to every parser. Files named in specs are never opened here (parse only).
#include <sstream>

#include "fuzz_target.h"
#include "steer/capture.h"
#include "steer/error.h"
#include "steer/hooks.h"
#include "steer/sites.h"
#include "steer/steering_spec.h"

namespace {

template <typename F>
void accept_clean(F&& parse) {
  try {
    parse();
  } catch (const steer::Error&) {
  }
}

}  // namespace

STEER_FUZZ_TARGET(steering_spec) {
  std::istringstream in(std::string(reinterpret_cast<const char*>(data), size));
  std::string text;
  int lines = 0;
  while (std::getline(in, text) && ++lines <= 8) {
    using Kind = steer::Intervention::Kind;
    for (Kind kind : {Kind::kAdd, Kind::kAblate, Kind::kClamp})
      accept_clean([&] { (void)steer::parse_steering_spec(kind, text); });
    accept_clean([&] { (void)steer::parse_layer_list(text, 30, "--layers"); });
    accept_clean([&] { (void)steer::parse_site(text, 30); });
    accept_clean([&] { (void)steer::parse_site_kind(text); });
    accept_clean([&] { (void)steer::PositionSelector::parse(text); });
    accept_clean([&] { (void)steer::CapturePositions::parse(text); });
  }
}
