// The refusal pipeline's files for people and programs: the candidate table (CSV + JSON), the
// three selection plots as the paper draws them (one line per position over layers, a dashed
// baseline), and the evaluation's summary (JSON, CSV, Markdown, HTML) and completions.
#pragma once
#include <nlohmann/json.hpp>
#include <string>

#include "steer/refusal.h"

namespace steer {

// JSON, indented, written atomically.
void write_json_file(const nlohmann::json& j, const std::string& path);

// OUT_DIR/candidates.csv and candidates.json.
void write_candidates(const RefusalSelection& selection, const std::string& out_dir);

// OUT_DIR/bypass_scores.svg, induce_scores.svg, kl_scores.svg.
void write_selection_plots(const RefusalSelection& selection, int n_layers, const std::string& out_dir);

}  // namespace steer
