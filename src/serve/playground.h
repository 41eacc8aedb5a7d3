// The steering playground: one self-contained HTML page (no CDN, no framework) that GET /
// serves. It lists the loaded vectors with a coefficient slider and a layer range each, and
// streams the unsteered and the steered answer to one prompt side by side.
#pragma once
#include <string>

namespace steer::serve {

const std::string& playground_html();

}  // namespace steer::serve
