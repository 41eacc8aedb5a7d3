// Adversarial-suffix analysis (Arditi et al. 2024, §5): why a suffix stops a model refusing,
// read from the last prompt token's residual stream.
//
//   steer::SuffixOptions o;
//   o.direction = steer::pick_direction("runs/qwen/direction.safetensors", "--direction").vector;
//   o.instructions = steer::default_harmful().instructions();
//   o.suffixes = {"maar make unnecessary simple formatting ..."};
//   steer::SuffixRun run = steer::compute_suffix_run(*model, o);
//   steer::write_suffix_run(run, "runs/suffix");  // summary.json, heads.csv, *.svg, report.html
//
// Decomposition. At the last position the residual stream entering the final norm is
//   hook_embed + Σ_layers (hook_attn_out + hook_mlp_out),
// and each layer's attention output is Σ_heads z_h · W_O[:, h]ᵀ + b_O: head h's `attn.hook_z`
// through its slice of the output projection. Models with a norm after attention (Gemma 2/3's
// post_attention_layernorm) are linearised there: every head's term is scaled by that norm's
// weight over the RMS of the whole attention output of that row, so the terms still sum exactly
// to hook_attn_out. Each component is projected on the unit direction (its contribution to
// "refusal" as the direction reads it) and, as a second view, on the mean unembedding of the
// model's refusal tokens through the final norm (direct logit attribution; the final norm's RMS
// is taken as a constant of the row, so the attributions sum to the refusal tokens' mean logit).
//
// Suppression of a component = mean over prompts of (its projection without the suffix − with
// it; the mean over suffixes when there are several), with a bootstrap interval over prompts;
// the heads the suffix suppresses most are ranked, and for them the attention the last token
// pays to the chat template, the instruction, the suffix and the template's tail.
//
// Failure: steer::Error for no prompts, no suffix, a direction of another width, top_heads < 1.
#pragma once
#include <ATen/core/Tensor.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "steer/runner.h"
#include "steer/stats.h"

namespace steer {

class Model;

// Every component's contribution to the last position's residual stream, for one batch of
// prompts (rows in the order given).
struct LastPositionComponents {
  at::Tensor embed;     // [rows, d_model]                  hook_embed
  at::Tensor heads;     // [rows, layers, heads, d_model]   each head's share of hook_attn_out
  at::Tensor attn_bias; // [rows, layers, d_model]          b_O's share (zeros without a bias)
  at::Tensor attn_out;  // [rows, layers, d_model]          hook_attn_out as the forward computed it
  at::Tensor mlp_out;   // [rows, layers, d_model]          hook_mlp_out
  at::Tensor resid_final;  // [rows, d_model]               hook_resid_post of the last block
  at::Tensor logits;    // [rows, vocab]                    the model's last-position logits
};

// One forward over `prompts` (at most a batch; no shared prefix), all float32 on the CPU.
LastPositionComponents last_position_components(const Model& model, const std::vector<EncodedPrompt>& prompts);

// Where a suffixed chat prompt's tokens come from, as positions in its own sequence:
// [0, instruction_begin) the chat template's head, [instruction_begin, suffix_begin) the
// instruction, [suffix_begin, suffix_end) the suffix, [suffix_end, size) the template's tail.
struct PromptSpans {
  int64_t instruction_begin = 0, suffix_begin = 0, suffix_end = 0, size = 0;
};

struct SuffixOptions {
  at::Tensor direction;                   // [d_model] (normalised here)
  int direction_layer = -1;               // for reports only
  std::string direction_file;             // for reports only
  std::vector<std::string> instructions;  // harmful requests
  std::vector<std::string> suffixes;      // appended to each, after `separator`
  std::vector<std::string> suffix_names;  // one per suffix, for reports ("" → "suffix N")
  std::string separator = " ";
  std::string system;
  int top_heads = 10;      // heads ranked and shown with their attention
  int batch_size = 8;
  bool progress = true;
};

struct HeadScore {
  int layer = 0, head = 0;
  Interval suppression;               // projection without − with the suffix, over prompts
  double plain = 0, suffixed = 0;     // mean projections
  double dla_plain = 0, dla_suffixed = 0;
  // The last token's attention (this head, mean over prompts) on each span: template head,
  // instruction, suffix, template tail. "plain" rows have no suffix span (0).
  std::vector<double> attention_plain, attention_suffixed;
};

struct SuffixRun {
  int n_layers = 0, n_heads = 0;
  size_t n_prompts = 0;
  std::vector<std::string> suffix_names;
  // [layer][head] means over prompts; suppression = plain − suffixed.
  std::vector<std::vector<double>> head_plain, head_suffixed, head_suppression;
  std::vector<std::vector<double>> head_dla_plain, head_dla_suffixed;
  std::vector<double> mlp_plain, mlp_suffixed, mlp_dla_plain, mlp_dla_suffixed;  // [layer]
  std::vector<double> attn_plain, attn_suffixed;  // [layer]: the whole attention output's projection
  double embed_plain = 0, embed_suffixed = 0;
  Interval resid_plain, resid_suffixed;          // the final residual's projection
  Interval refusal_plain;                        // first-token refusal score without the suffix
  std::vector<Interval> refusal_suffixed;        // per suffix
  std::vector<double> refusal_rate_suffixed;     // per suffix: share of prompts with score > 0
  double refusal_rate_plain = 0;
  std::vector<HeadScore> top_heads;              // by suppression, largest first
  // The first prompt's tokens and the top heads' attention over them (plain and first suffix),
  // for the per-token heatmap.
  std::vector<std::string> example_tokens;
  PromptSpans example_spans;
  std::vector<std::vector<double>> example_attention;  // [top head][token] with the suffix
  nlohmann::json metadata;
};

// Suffixes from a file: a JSON object {name: template} whose templates start with a
// placeholder ("{forbidden_prompt}" as in StrongREJECT's wrapping_jailbreaks.json, or
// "{prompt}") followed by the suffix — only_prefix keeps the entries whose name starts with it
// ("gcg" picks that file's GCG suffixes); a JSON list of strings; or a text file, one suffix per
// line. steer::Error naming the file and the entry for a template that does not start with the
// placeholder, a non-string entry, an empty suffix, or no suffix at all.
struct NamedSuffix {
  std::string name, text;
};
std::vector<NamedSuffix> load_suffixes(const std::string& path, const std::string& only_prefix = "");

// Checks the options that need no model (prompts, suffixes, top_heads, batch size).
void check_suffix_options(const SuffixOptions& options);

SuffixRun compute_suffix_run(const Model& model, const SuffixOptions& options);

// RUN_DIR/summary.json ({"top_heads": [{"layer", "head", "suppression", ...}], ...}), heads.csv,
// layers.csv, suppression.svg (layer × head), components.svg, attention.svg,
// attention_tokens.svg, report.html; the folder is staged and moved in at the end.
void write_suffix_run(const SuffixRun& run, const std::string& out_dir);

}  // namespace steer
