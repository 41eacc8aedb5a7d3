// Writing abliterated models (include/steer/orthogonalize.h): the GGUF path works on the source
// file's tensors as stored, the Hugging Face path on the checkpoint's safetensors. Both decide
// per tensor name what to do (a small table: embedding rows, output-projection columns, biases),
// leave everything else untouched, and untie a tied head by writing the original embedding
// again under the head's name.
//
// Memory: the GGUF writer fills each modified tensor at write time, so only one of them is in
// memory at once (the untouched ones are borrowed from the memory map). The safetensors writer
// takes owned bytes, so there the modified tensors are held until the file is written.
#include <ATen/ATen.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>

#include "io/read_file.h"
#include "steer/json_text.h"
#include "steer/error.h"
#include "steer/progress.h"
#include "data/sha256.h"
#include "io/dequant.h"
#include "io/half.h"
#include "io/tensor_names.h"
#include "steer/config.h"
#include "steer/gguf.h"
#include "steer/gguf_writer.h"
#include "steer/orthogonalize.h"
#include "steer/safetensors.h"
#include "steer/outputs.h"

namespace steer {
namespace {

namespace fs = std::filesystem;

enum class Op {
  kRows,  // [n, d_model] (the embedding) or [d_model] (a bias): rows ⟂ r̂
  kCols,  // [d_model, n] (an output projection): columns ⟂ r̂
};

// The tensors that write into the residual stream, by file name. ffn_down / down_proj biases are
// not in the engine's name table (no family we load has one) but are orthogonalized when a file
// carries them, so the exported file is right for engines that do read them.
std::map<std::string, Op> gguf_ops(int n_layers) {
  std::map<std::string, Op> ops = {{gguf_tensor_name(TensorRole::kEmbed, -1), Op::kRows}};
  for (int l = 0; l < n_layers; ++l) {
    const std::string blk = "blk." + std::to_string(l) + ".";
    ops[gguf_tensor_name(TensorRole::kO, l)] = Op::kCols;
    ops[gguf_tensor_name(TensorRole::kOBias, l)] = Op::kRows;
    ops[gguf_tensor_name(TensorRole::kDown, l)] = Op::kCols;
    ops[blk + "ffn_down.bias"] = Op::kRows;
  }
  return ops;
}

std::map<std::string, Op> hf_ops(const ModelConfig& c) {
  std::map<std::string, Op> ops = {{hf_tensor_name(TensorRole::kEmbed, -1, c.post_norms), Op::kRows}};
  for (int l = 0; l < c.n_layers; ++l) {
    ops[hf_tensor_name(TensorRole::kO, l, c.post_norms)] = Op::kCols;
    ops[hf_tensor_name(TensorRole::kOBias, l, c.post_norms)] = Op::kRows;
    ops[hf_tensor_name(TensorRole::kDown, l, c.post_norms)] = Op::kCols;
    ops["model.layers." + std::to_string(l) + ".mlp.down_proj.bias"] = Op::kRows;
  }
  return ops;
}

// values [n, d] or [d, n] or [d] float32 (contiguous, row-major as stored) → orthogonalized float32.
at::Tensor apply(Op op, const at::Tensor& values, const at::Tensor& r_hat) {
  if (values.dim() == 1 || op == Op::kRows) return orthogonalize_rows(values, r_hat).contiguous();
  return orthogonalize_cols(values, r_hat).contiguous();
}

void check_length(const at::Tensor& direction, const ModelConfig& c, const std::string& source) {
  if (direction.dim() != 1 || direction.numel() != c.d_model)
    fail("the direction has " + std::to_string(direction.numel()) + " elements but " + source + " has d_model " +
             std::to_string(c.d_model),
         "use a direction extracted from this model");
}

void check_type(GGMLType t) {
  if (t != GGMLType::F32 && t != GGMLType::F16 && t != GGMLType::BF16)
    fail("abliterate: modified tensors can be written as F32, F16 or BF16, not " + ggml_type_name(t),
         "use --type f32|f16|bf16, or --requantize for the source types");
}

// What quantize_tensor can write (src/io/dequant.h).
bool can_quantize(GGMLType t) {
  switch (t) {
    case GGMLType::F32: case GGMLType::F16: case GGMLType::BF16: case GGMLType::Q4_0: case GGMLType::Q4_1:
    case GGMLType::Q5_0: case GGMLType::Q5_1: case GGMLType::Q8_0: case GGMLType::Q4_K: case GGMLType::Q5_K:
    case GGMLType::Q6_K:
      return true;
    default:
      return false;
  }
}

std::string direction_sha256(const at::Tensor& direction) {
  at::Tensor f = direction.to(at::kFloat).contiguous();
  return sha256_hex(f.data_ptr<float>(), f.numel() * sizeof(float));
}

void fill_report_header(AbliterateReport& report, const ModelConfig& c, const at::Tensor& direction) {
  report.direction_sha256 = direction_sha256(direction);
  report.exact = !c.post_norms;
  if (!report.exact)
    report.warnings.push_back(c.arch + " applies norms after the attention and MLP output projections: the "
                              "orthogonalized weights approximate runtime ablation, they do not equal it");
}

}  // namespace

AbliterateReport abliterate_gguf(const std::string& source, const at::Tensor& direction, const std::string& output,
                                 const AbliterateOptions& options) {
  if (!options.requantize) check_type(options.type);
  check_output_file("--output", output, {source});  // never over its own input, checked before the work
  std::shared_ptr<GGUFFile> file = GGUFFile::open(source);
  const ModelConfig c = config_from_gguf(*file);
  check_length(direction, c, source);
  const at::Tensor r_hat = unit_direction(direction, "direction");
  AbliterateReport report;
  fill_report_header(report, c, direction);

  const std::string embed_name = gguf_tensor_name(TensorRole::kEmbed, -1);
  const std::string head_name = gguf_tensor_name(TensorRole::kLmHead, -1);
  if (!file->find_tensor(embed_name))
    fail(source + ": no tensor '" + embed_name + "'", "is this a model file (not a vocab-only or control-vector GGUF)?");
  report.untied = file->find_tensor(head_name) == nullptr;

  GGUFWriter out;
  out.copy_metadata_from(*file);
  if (file->has("general.name")) out.set_string("general.name", file->get_string("general.name") + " (abliterated)");
  out.set_string("steer.abliterate.version", STEER_VERSION);
  out.set_string("steer.abliterate.source", fs::path(source).filename().string());
  out.set_string("steer.abliterate.direction_sha256", report.direction_sha256);
  if (!options.direction_source.empty()) out.set_string("steer.abliterate.direction_source", options.direction_source);
  if (options.layer >= 0) out.set_i32("steer.abliterate.layer", options.layer);
  out.set_bool("steer.abliterate.exact", report.exact);
  out.set_bool("steer.abliterate.untied_output", report.untied);

  const std::map<std::string, Op> ops = gguf_ops(c.n_layers);
  int n_modified = 0;
  for (const GGUFTensorInfo& info : file->tensors()) n_modified += ops.count(info.name) ? 1 : 0;
  auto bar = std::make_shared<std::unique_ptr<Progress>>();
  if (options.progress) *bar = std::make_unique<Progress>("abliterating", n_modified, "tensors");

  for (const GGUFTensorInfo& info : file->tensors()) {
    auto it = ops.find(info.name);
    if (it == ops.end()) {
      out.add_tensor_from(file, info);  // borrowed from the map, byte for byte
      continue;
    }
    if (info.ne.size() > 2 || info.ne.empty())
      fail(source + ": tensor '" + info.name + "' has " + std::to_string(info.ne.size()) + " dims, expected 1 or 2");
    GGMLType to = info.ne.size() == 1 ? GGMLType::F32 : options.type;  // biases stay F32, as llama.cpp adds them
    if (options.requantize) {
      to = info.type;
      if (!can_quantize(to)) {
        to = GGMLType::F16;
        report.warnings.push_back(info.name + ": cannot quantize to " + ggml_type_name(info.type) + "; written as F16");
      }
    }
    report.tensors.push_back({info.name, "orthogonalized", ggml_type_name(info.type), ggml_type_name(to)});
    const Op op = it->second;
    // Runs inside write(): dequantize (GGUF order, ne[0] fastest = row-major [ne1, ne0], which is
    // the HF [out, in] layout for these tensors), orthogonalize, encode.
    out.add_tensor_fill(info.name, info.ne, to, [file, info, op, r_hat, to, bar](uint8_t* dst, size_t n_bytes) {
      at::Tensor values = at::empty(std::vector<int64_t>(info.ne.rbegin(), info.ne.rend()), at::kFloat);
      dequantize_tensor(*file, info, values.data_ptr<float>());
      at::Tensor o = apply(op, values, r_hat);
      if (to == GGMLType::F32) {
        std::memcpy(dst, o.data_ptr<float>(), n_bytes);
      } else {
        std::vector<uint8_t> q;
        try {
          q = quantize_tensor(to, o.data_ptr<float>(), info.ne);
        } catch (const Error& e) {
          fail("abliterate: tensor " + info.name + ": " + e.what(), e.hint());
        }
        if (q.size() != n_bytes) fail("abliterate: " + info.name + ": quantized size mismatch (a bug)");
        std::memcpy(dst, q.data(), n_bytes);
      }
      if (*bar) (*bar)->advance();
    });
    if (info.name == embed_name && report.untied) {
      // The head reads the residual stream, which keeps its meaning: it must stay the original E.
      out.add_tensor_from(file, info, head_name);
      report.tensors.push_back({head_name, "untied", ggml_type_name(info.type), ggml_type_name(info.type)});
    }
  }
  out.write(output);
  if (*bar) (*bar)->finish();
  report.bytes_written = fs::file_size(output);
  return report;
}

namespace {

SafetensorsDType safetensors_type(GGMLType t) {
  if (t == GGMLType::F16) return SafetensorsDType::F16;
  if (t == GGMLType::BF16) return SafetensorsDType::BF16;
  return SafetensorsDType::F32;
}

std::vector<uint8_t> encode(const at::Tensor& values, GGMLType t) {  // float32 contiguous
  const float* v = values.data_ptr<float>();
  const int64_t n = values.numel();
  if (t == GGMLType::F32) {
    std::vector<uint8_t> b(n * sizeof(float));
    std::memcpy(b.data(), v, b.size());
    return b;
  }
  std::vector<uint8_t> b(n * 2);
  for (int64_t i = 0; i < n; ++i) {
    uint16_t h = t == GGMLType::F16 ? fp32_to_fp16(v[i]) : fp32_to_bf16(v[i]);
    std::memcpy(b.data() + 2 * i, &h, 2);
  }
  return b;
}

bool is_weight_file(const fs::path& p) {
  std::string name = p.filename().string();
  return p.extension() == ".safetensors" || name == "model.safetensors.index.json";
}

}  // namespace

AbliterateReport abliterate_hf_dir(const std::string& source_dir, const at::Tensor& direction,
                                   const std::string& output_dir, const AbliterateOptions& options) {
  if (options.requantize)
    fail("--requantize applies to GGUF models only", "a safetensors export writes --type f32|f16|bf16");
  check_type(options.type);
  const fs::path src(source_dir);
  const fs::path config_path = src / "config.json";
  if (!fs::is_directory(src) || !fs::exists(config_path))
    fail(source_dir + " is not a Hugging Face model directory (no config.json)",
         "give a directory with config.json, tokenizer.json and *.safetensors");
  check_output_folder("--output", output_dir, {source_dir});  // never over (or inside) its own input
  fs::path dst = fs::path(output_dir).lexically_normal();
  if (dst.filename().empty()) dst = dst.parent_path();  // "out/" → "out"
  if (fs::exists(dst) && !(fs::is_directory(dst) && fs::is_empty(dst)))
    fail(output_dir + " already exists", "choose a new output directory, or remove the old one first");

  nlohmann::json config_json = read_json_file(config_path.string(), "model config");
  const ModelConfig c = config_from_hf(config_json, config_path.string());
  check_length(direction, c, source_dir);
  const at::Tensor r_hat = unit_direction(direction, "direction");
  AbliterateReport report;
  fill_report_header(report, c, direction);
  SafetensorsModel weights = SafetensorsModel::open(source_dir);
  const std::string embed_name = hf_tensor_name(TensorRole::kEmbed, -1, c.post_norms);
  const std::string head_name = hf_tensor_name(TensorRole::kLmHead, -1, c.post_norms);
  if (!weights.has(embed_name)) fail(source_dir + ": no tensor '" + embed_name + "'", "is this a decoder LM checkpoint?");
  report.untied = !weights.has(head_name);

  SafetensorsWriter out;
  out.set_metadata("format", "pt");
  out.set_metadata("steer.abliterate.version", STEER_VERSION);
  out.set_metadata("steer.abliterate.source", src.lexically_normal().filename().string());
  out.set_metadata("steer.abliterate.direction_sha256", report.direction_sha256);
  if (!options.direction_source.empty()) out.set_metadata("steer.abliterate.direction_source", options.direction_source);
  if (options.layer >= 0) out.set_metadata("steer.abliterate.layer", std::to_string(options.layer));
  out.set_metadata("steer.abliterate.exact", report.exact ? "true" : "false");

  const std::map<std::string, Op> ops = hf_ops(c);
  std::vector<std::string> names = weights.tensor_names();
  int n_modified = 0;
  for (const auto& n : names) n_modified += ops.count(n) ? 1 : 0;
  std::unique_ptr<Progress> bar;
  if (options.progress) bar = std::make_unique<Progress>("abliterating", n_modified, "tensors");
  for (const std::string& name : names) {
    SafetensorsModel::Entry e = weights.get(name);
    auto it = ops.find(name);
    if (it == ops.end()) {
      out.add_tensor_view(name, e.info->dtype, e.info->shape, e.file->tensor_data(*e.info));
    } else {
      std::vector<float> v = e.file->to_float(*e.info);
      at::Tensor values = at::from_blob(v.data(), e.info->shape, at::kFloat);
      at::Tensor o = apply(it->second, values, r_hat);
      GGMLType to = e.info->shape.size() == 1 ? GGMLType::F32 : options.type;
      out.add_tensor(name, safetensors_type(to), e.info->shape, encode(o, to));
      report.tensors.push_back({name, "orthogonalized", safetensors_dtype_name(e.info->dtype), ggml_type_name(to)});
      if (bar) bar->advance();
    }
    if (name == embed_name && report.untied) {
      out.add_tensor_view(head_name, e.info->dtype, e.info->shape, e.file->tensor_data(*e.info));
      const char* t = safetensors_dtype_name(e.info->dtype);
      report.tensors.push_back({head_name, "untied", t, t});
    }
  }
  if (bar) bar->finish();

  // Everything goes into a sibling temp directory first; one rename publishes it.
  const fs::path tmp = dst.string() + ".tmp-" + std::to_string(::getpid());
  fs::remove_all(tmp);
  register_temporary_output(tmp.string());  // SIGINT removes it
  fs::create_directories(tmp);
  try {
    out.write((tmp / "model.safetensors").string());
    for (const auto& entry : fs::directory_iterator(src)) {
      if (!entry.is_regular_file() || is_weight_file(entry.path())) continue;
      const fs::path to = tmp / entry.path().filename();
      if (entry.path().filename() == "config.json" && report.untied) {
        nlohmann::json j = config_json;
        j["tie_word_embeddings"] = false;  // the head is its own tensor now
        std::ofstream f(to);
        f << json_text(j, 2) << "\n";
        if (!f.flush()) fail("cannot write " + to.string());
      } else {
        fs::copy_file(entry.path(), to, fs::copy_options::overwrite_existing);
      }
    }
    if (fs::exists(dst)) fs::remove(dst);  // an empty directory (checked above)
    fs::rename(tmp, dst);
    unregister_temporary_output(tmp.string());
  } catch (const fs::filesystem_error& e) {
    fs::remove_all(tmp);
    unregister_temporary_output(tmp.string());
    fail("cannot write " + output_dir + ": " + e.what());
  } catch (...) {
    fs::remove_all(tmp);
    unregister_temporary_output(tmp.string());
    throw;
  }
  report.bytes_written = fs::file_size(dst / "model.safetensors");
  return report;
}

}  // namespace steer
