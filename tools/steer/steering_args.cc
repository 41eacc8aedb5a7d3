#include "steering_args.h"

#include <ATen/ATen.h>

#include <cctype>
#include <filesystem>
#include <sstream>

#include "steer/error.h"
#include "steer/directions.h"

namespace steer::cli {
namespace {

constexpr const char* kAddForm = "use VEC[@LAYERS][:COEF], e.g. sycophancy.gguf@12:4 or v.safetensors@8-12:-1";
constexpr const char* kAblateForm = "use DIR[@LAYERS], e.g. refusal.safetensors or refusal.safetensors@12";
constexpr const char* kClampForm = "use DIR@LAYER:VALUE, e.g. refusal.safetensors@12:0";

float parse_number(const std::string& text, const std::string& what, const char* form) {
  try {
    size_t used = 0;
    float v = std::stof(text, &used);
    if (used == text.size() && std::isfinite(v)) return v;
  } catch (const std::exception&) {
  }
  fail(what + ": '" + text + "' is not a number", form);
}

bool looks_like_layers(const std::string& s) {
  if (s.empty()) return false;
  for (char c : s)
    if (!std::isdigit(static_cast<unsigned char>(c)) && c != ',' && c != '-') return false;
  return std::isdigit(static_cast<unsigned char>(s.front()));
}

// FILE[@LAYERS][:NUMBER] split into its parts. '@' counts as the separator only when what follows
// it is a layer list, so a path may itself contain '@' or ':'.
struct Spec {
  std::string file, layers, number;
  bool has_layers = false, has_number = false;
};
Spec split_spec(const std::string& text) {
  Spec s;
  s.file = text;
  size_t at = text.rfind('@');
  if (at != std::string::npos) {
    std::string rest = text.substr(at + 1);
    size_t colon = rest.find(':');
    std::string layers = rest.substr(0, colon);
    if (looks_like_layers(layers)) {
      s.file = text.substr(0, at);
      s.layers = layers;
      s.has_layers = true;
      if (colon != std::string::npos) s.number = rest.substr(colon + 1), s.has_number = true;
      return s;
    }
  }
  size_t colon = text.rfind(':');
  if (colon != std::string::npos && colon + 1 < text.size()) {
    std::string tail = text.substr(colon + 1);
    try {
      size_t used = 0;
      std::stof(tail, &used);
      if (used == tail.size()) {
        s.file = text.substr(0, colon);
        s.number = tail;
        s.has_number = true;
      }
    } catch (const std::exception&) {
    }
  }
  return s;
}

std::string base_name(const std::string& path) { return std::filesystem::path(path).filename().string(); }

std::string join(const std::vector<int>& v) {
  std::ostringstream out;
  for (size_t i = 0; i < v.size(); ++i) out << (i ? "," : "") << v[i];
  return out.str();
}

// The vector of `set` (read from `file`) at `layer`, or its only vector; else an error saying
// which layers it holds.
const at::Tensor& pick_vector(const DirectionSet& set, int layer, const std::string& what) {
  if (set.has(layer)) return set.at_layer(layer);
  if (set.vectors().size() == 1) return set.vectors().begin()->second;
  fail(what + ": the file has no vector at layer " + std::to_string(layer) + " (it has layers " + join(set.layers()) +
           ")",
       "name one of its layers");
}

}  // namespace

PickedDirection pick_direction(const std::string& spec, const std::string& option) {
  const std::string what = option + " '" + spec + "'";
  Spec s = split_spec(spec);
  if (s.has_number) fail(what + ": takes no coefficient", "use FILE or FILE@LAYER, e.g. direction.safetensors@12");
  DirectionSet set = load_directions(s.file);
  if (set.empty()) fail(what + ": the file holds no vectors");
  PickedDirection p;
  p.file = s.file;
  if (!s.has_layers) {
    if (set.vectors().size() != 1)
      fail(what + ": the file holds vectors at layers " + join(set.layers()) + "; say which is the direction",
           "e.g. " + s.file + "@" + std::to_string(set.layers().front()));
    p.layer = set.vectors().begin()->first;
    p.vector = set.vectors().begin()->second;
    return p;
  }
  std::vector<int> layers = parse_layer_list(s.layers, option);
  if (layers.size() != 1) fail(what + ": name one layer", "use FILE@LAYER, e.g. " + s.file + "@12");
  if (!set.has(layers[0]))
    fail(what + ": the file has no vector at layer " + std::to_string(layers[0]) + " (it has layers " +
             join(set.layers()) + ")",
         "name one of its layers");
  p.layer = layers[0];
  p.vector = set.at_layer(layers[0]);
  return p;
}

std::vector<int> parse_layer_list(const std::string& text, const std::string& option) {
  std::vector<int> out;
  std::stringstream ss(text);
  std::string item;
  auto bad = [&]() {
    fail(option + ": bad layer list '" + text + "'", "layers are 0-based: 10, 8-12 or 3,5");
  };
  while (std::getline(ss, item, ',')) {
    if (item.empty()) bad();
    size_t dash = item.find('-', 1);
    try {
      size_t used = 0;
      int lo = std::stoi(item.substr(0, dash), &used);
      if (used != (dash == std::string::npos ? item.size() : dash) || lo < 0) bad();
      int hi = lo;
      if (dash != std::string::npos) {
        std::string h = item.substr(dash + 1);
        hi = std::stoi(h, &used);
        if (used != h.size() || hi < lo) bad();
      }
      for (int l = lo; l <= hi; ++l) out.push_back(l);
    } catch (const std::logic_error&) {  // stoi: invalid_argument, out_of_range
      bad();
    }
  }
  if (out.empty()) bad();
  return out;
}

void add_steering_options(CLI::App& sub, SteeringArgs& args) {
  sub.add_option("--add", args.add,
                 "Add COEF·v to the residual stream: VEC[@LAYERS][:COEF] (repeatable). VEC is a .safetensors or "
                 "llama.cpp control-vector .gguf file; LAYERS like 10, 8-12 or 3,5 (default: the file's layers; a "
                 "file with one vector can be used at any layer); COEF default 1. At the file's site "
                 "(control vectors: hook_resid_post).")
      ->group("Steering");
  sub.add_option("--ablate", args.ablate,
                 "Ablate a direction at hook_resid_pre, hook_attn_out and hook_mlp_out of every layer, all "
                 "positions: DIR[@LAYERS] (repeatable). @LAYERS picks which of the file's vectors is the direction "
                 "(needed when it holds several); several together are ablated as one subspace.")
      ->group("Steering");
  sub.add_option("--clamp", args.clamp,
                 "Set the projection on a direction to VALUE at one layer: DIR@LAYER:VALUE (repeatable; at the "
                 "file's site, on the --positions tokens).")
      ->group("Steering");
  sub.add_option("--positions", args.positions,
                 "Tokens --add and --clamp change: all, prompt, generated, after-instruction, or indices like "
                 "--positions=-3,-2,-1 (negative = from the prompt's end). Default: after-instruction for chat "
                 "prompts (CAA), all with --raw.")
      ->group("Steering");
}

Steering build_steering(const SteeringArgs& args, bool chat_prompts) {
  PositionSelector positions = args.positions.empty()
                                   ? (chat_prompts ? PositionSelector::after_instruction() : PositionSelector::all())
                                   : PositionSelector::parse(args.positions);
  Steering steering;

  // --ablate: every direction named, one subspace.
  if (!args.ablate.empty()) {
    std::vector<at::Tensor> dirs;
    std::string label;
    for (const std::string& text : args.ablate) {
      const std::string what = "--ablate '" + text + "'";
      Spec s = split_spec(text);
      if (s.has_number) fail(what + ": an ablation takes no coefficient", kAblateForm);
      DirectionSet set = load_directions(s.file);
      std::vector<int> layers = s.has_layers ? parse_layer_list(s.layers, "--ablate") : std::vector<int>{};
      if (layers.empty()) {
        if (set.vectors().size() != 1)
          fail(what + ": the file holds vectors at layers " + join(set.layers()) + "; say which is the direction",
               "e.g. " + s.file + "@" + std::to_string(set.layers().front()));
        dirs.push_back(set.vectors().begin()->second);
      } else {
        for (int l : layers) dirs.push_back(pick_vector(set, l, what));
      }
      for (const at::Tensor& d : dirs)
        if (d.numel() != dirs.front().numel())
          fail(what + ": direction has d_model " + std::to_string(d.numel()) + ", another --ablate direction has " +
               std::to_string(dirs.front().numel()));
      label += (label.empty() ? "" : "+") + base_name(s.file) + (s.has_layers ? "@" + s.layers : "");
    }
    steering.then(make_ablation(at::stack(dirs), {}, label));
  }

  for (const std::string& text : args.add) {
    const std::string what = "--add '" + text + "'";
    Spec s = split_spec(text);
    float coef = s.has_number ? parse_number(s.number, what, kAddForm) : 1.f;
    std::vector<int> layers = s.has_layers ? parse_layer_list(s.layers, "--add") : std::vector<int>{};
    DirectionSet set = load_directions(s.file);
    steering.then(make_add(set, coef, positions, layers, base_name(s.file)));
  }

  for (const std::string& text : args.clamp) {
    const std::string what = "--clamp '" + text + "'";
    Spec s = split_spec(text);
    if (!s.has_layers || !s.has_number) fail(what + ": needs a layer and a value", kClampForm);
    std::vector<int> layers = parse_layer_list(s.layers, "--clamp");
    if (layers.size() != 1) fail(what + ": clamp one layer at a time", kClampForm);
    float value = parse_number(s.number, what, kClampForm);
    DirectionSet set = load_directions(s.file);
    steering.then(make_clamp(pick_vector(set, layers[0], what), value, layers, set.meta().site, positions,
                             base_name(s.file)));
  }
  return steering;
}

}  // namespace steer::cli
