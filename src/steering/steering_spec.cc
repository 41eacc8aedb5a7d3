// Steering specs (steer/steering_spec.h): FILE[@LAYERS][:NUMBER] → SteeringSpec → Steering.
// Only the text form lives here; what the interventions do is steering/interventions.cc.
#include "steer/steering_spec.h"

#include <ATen/ATen.h>

#include <cctype>
#include <cmath>
#include <filesystem>
#include <sstream>

#include "steer/config.h"
#include "steer/directions.h"
#include "steer/error.h"

namespace steer {
namespace {

constexpr const char* kAddForm = "use VEC[@LAYERS][:COEF], e.g. sycophancy.gguf@12:4 or v.safetensors@8-12:-1";
constexpr const char* kAblateForm = "use DIR[@LAYERS], e.g. refusal.safetensors or refusal.safetensors@12";
constexpr const char* kClampForm = "use DIR@LAYER:VALUE, e.g. refusal.safetensors@12:0";

const char* default_option(Intervention::Kind kind) {
  switch (kind) {
    case Intervention::Kind::kAdd: return "--add";
    case Intervention::Kind::kAblate: return "--ablate";
    case Intervention::Kind::kClamp: return "--clamp";
  }
  return "--steer";
}

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
struct Parts {
  std::string file, layers, number;
  bool has_layers = false, has_number = false;
};
Parts split_spec(const std::string& text) {
  Parts s;
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

// The vector of `set` at `layer`, or its only vector; else an error saying which layers it holds.
const at::Tensor& pick_vector(const DirectionSet& set, int layer, const std::string& what) {
  if (set.has(layer)) return set.at_layer(layer);
  if (set.vectors().size() == 1) return set.vectors().begin()->second;
  fail(what + ": the file has no vector at layer " + std::to_string(layer) + " (it has layers " + join(set.layers()) +
           ")",
       "name one of its layers");
}

// "--add 'v.gguf@12:4'": how errors name a spec.
std::string spec_name(const std::string& option, const std::string& text) { return option + " '" + text + "'"; }

}  // namespace

SteeringSpec parse_steering_spec(Intervention::Kind kind, const std::string& text, const std::string& option_in) {
  const std::string option = option_in.empty() ? default_option(kind) : option_in;
  const std::string what = spec_name(option, text);
  Parts p = split_spec(text);
  SteeringSpec spec;
  spec.kind = kind;
  spec.file = p.file;
  spec.layers_text = p.layers;
  switch (kind) {
    case Intervention::Kind::kAdd:
      if (p.has_number) spec.number = parse_number(p.number, what, kAddForm);
      break;
    case Intervention::Kind::kAblate:
      if (p.has_number) fail(what + ": an ablation takes no coefficient", kAblateForm);
      break;
    case Intervention::Kind::kClamp:
      if (!p.has_layers || !p.has_number) fail(what + ": needs a layer and a value", kClampForm);
      break;
  }
  if (p.has_layers) spec.layers = parse_layer_list(p.layers, 0, option);
  if (kind == Intervention::Kind::kClamp) {
    if (spec.layers.size() != 1) fail(what + ": clamp one layer at a time", kClampForm);
    spec.number = parse_number(p.number, what, kClampForm);
  }
  return spec;
}

PickedDirection pick_direction(const std::string& spec, const std::string& option) {
  const std::string what = spec_name(option, spec);
  Parts s = split_spec(spec);
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
  std::vector<int> layers = parse_layer_list(s.layers, 0, option);
  if (layers.size() != 1) fail(what + ": name one layer", "use FILE@LAYER, e.g. " + s.file + "@12");
  if (!set.has(layers[0]))
    fail(what + ": the file has no vector at layer " + std::to_string(layers[0]) + " (it has layers " +
             join(set.layers()) + ")",
         "name one of its layers");
  p.layer = layers[0];
  p.vector = set.at_layer(layers[0]);
  return p;
}

std::string other_model_note(const DirectionMeta& m, const ModelConfig& config) {
  const bool other_arch = !m.model_arch.empty() && m.model_arch != config.arch;
  const bool other_model = m.model_arch.empty() && !m.model.empty() && m.model != config.arch && m.model != config.name;
  if (!other_arch && !other_model) return "";
  return "made for " + (m.model.empty() ? m.model_arch : m.model) +
         (m.model_arch.empty() || m.model == m.model_arch ? "" : " (" + m.model_arch + ")") + ", this model is " +
         (config.name.empty() ? config.arch : config.name + " (" + config.arch + ")");
}

std::vector<std::string> check_steering_fits(const SteeringSpecs& specs, const ModelConfig& config) {
  std::vector<std::string> warnings;
  auto check = [&](Intervention::Kind kind, const std::string& text) {
    const SteeringSpec s = parse_steering_spec(kind, text);
    const std::string what = spec_name(default_option(kind), text);
    for (int l : s.layers)
      if (l >= config.n_layers)
        fail(what + ": layer " + std::to_string(l) + " is out of range: the model has " + std::to_string(config.n_layers) +
                 " layers (0-" + std::to_string(config.n_layers - 1) + ")",
             "name a layer of the model (steer inspect MODEL lists them)");
    const DirectionSet set = load_directions(s.file);
    set.check_compatible(config, what);
    const std::string note = other_model_note(set.meta(), config);
    if (!note.empty()) warnings.push_back(what + ": the file was " + note + "; applying it anyway");
  };
  for (const std::string& t : specs.ablate) check(Intervention::Kind::kAblate, t);
  for (const std::string& t : specs.add) check(Intervention::Kind::kAdd, t);
  for (const std::string& t : specs.clamp) check(Intervention::Kind::kClamp, t);
  return warnings;
}

Steering build_steering(const SteeringSpecs& specs, bool chat_prompts) {
  PositionSelector positions = specs.positions.empty()
                                   ? (chat_prompts ? PositionSelector::after_instruction() : PositionSelector::all())
                                   : PositionSelector::parse(specs.positions);
  Steering steering;

  // Ablations: every direction named, one subspace.
  if (!specs.ablate.empty()) {
    std::vector<at::Tensor> dirs;
    std::string label;
    for (const std::string& text : specs.ablate) {
      const std::string what = spec_name("--ablate", text);
      SteeringSpec s = parse_steering_spec(Intervention::Kind::kAblate, text);
      DirectionSet set = load_directions(s.file);
      if (s.layers.empty()) {
        if (set.vectors().size() != 1)
          fail(what + ": the file holds vectors at layers " + join(set.layers()) + "; say which is the direction",
               "e.g. " + s.file + "@" + std::to_string(set.layers().front()));
        dirs.push_back(set.vectors().begin()->second);
      } else {
        for (int l : s.layers) dirs.push_back(pick_vector(set, l, what));
      }
      for (const at::Tensor& d : dirs)
        if (d.numel() != dirs.front().numel())
          fail(what + ": direction has d_model " + std::to_string(d.numel()) + ", another --ablate direction has " +
               std::to_string(dirs.front().numel()));
      label += (label.empty() ? "" : "+") + base_name(s.file) + (s.layers_text.empty() ? "" : "@" + s.layers_text);
    }
    steering.then(make_ablation(at::stack(dirs), {}, label));
  }

  for (const std::string& text : specs.add) {
    SteeringSpec s = parse_steering_spec(Intervention::Kind::kAdd, text);
    DirectionSet set = load_directions(s.file);
    steering.then(make_add(set, s.number.value_or(1.f), s.layers, positions, base_name(s.file)));
  }

  for (const std::string& text : specs.clamp) {
    const std::string what = spec_name("--clamp", text);
    SteeringSpec s = parse_steering_spec(Intervention::Kind::kClamp, text);
    DirectionSet set = load_directions(s.file);
    steering.then(make_clamp(pick_vector(set, s.layers[0], what), *s.number, s.layers, positions, set.meta().site,
                             base_name(s.file)));
  }
  return steering;
}

}  // namespace steer
