// Safetensors reader, writer and sharded-checkpoint index.
#include "steer/json_text.h"
#include "steer/safetensors.h"

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>

#include <nlohmann/json.hpp>

#include "io/read_file.h"
#include "steer/error.h"
#include "io/atomic_file.h"
#include "io/half.h"
#include "io/mmap_file.h"

namespace steer {

namespace {

constexpr uint64_t kMaxHeaderSize = 100'000'000;  // the reference implementation's limit
constexpr const char* kCorruptHint = "the file is damaged or was not written by a safetensors library; fetch it again";

struct DTypeRow {
  SafetensorsDType dtype;
  const char* name;
  size_t size;
};
const DTypeRow kDTypes[] = {
    {SafetensorsDType::BOOL, "BOOL", 1}, {SafetensorsDType::U8, "U8", 1},
    {SafetensorsDType::I8, "I8", 1},     {SafetensorsDType::F8_E5M2, "F8_E5M2", 1},
    {SafetensorsDType::F8_E4M3, "F8_E4M3", 1}, {SafetensorsDType::I16, "I16", 2},
    {SafetensorsDType::U16, "U16", 2},   {SafetensorsDType::F16, "F16", 2},
    {SafetensorsDType::BF16, "BF16", 2}, {SafetensorsDType::I32, "I32", 4},
    {SafetensorsDType::U32, "U32", 4},   {SafetensorsDType::F32, "F32", 4},
    {SafetensorsDType::F64, "F64", 8},   {SafetensorsDType::I64, "I64", 8},
    {SafetensorsDType::U64, "U64", 8},
};

// Element count of `shape` times `elem`, or fail() with `what` on overflow/negative dims.
uint64_t checked_nbytes(const std::vector<int64_t>& shape, size_t elem, const std::string& what) {
  uint64_t n = elem;
  for (int64_t d : shape) {
    if (d < 0) fail(what + ": negative dimension " + std::to_string(d));
    const uint64_t u = static_cast<uint64_t>(d);
    if (u != 0 && n > std::numeric_limits<uint64_t>::max() / u) fail(what + ": size overflows 64 bits");
    n *= u;
  }
  return n;
}

std::string shape_string(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

}  // namespace

const char* safetensors_dtype_name(SafetensorsDType dtype) {
  for (const DTypeRow& r : kDTypes) {
    if (r.dtype == dtype) return r.name;
  }
  return "unknown";
}

size_t safetensors_dtype_size(SafetensorsDType dtype) {
  for (const DTypeRow& r : kDTypes) {
    if (r.dtype == dtype) return r.size;
  }
  return 0;
}

SafetensorsDType safetensors_dtype_from_name(const std::string& name) {
  std::string known;
  for (const DTypeRow& r : kDTypes) {
    if (name == r.name) return r.dtype;
    known += (known.empty() ? "" : ", ") + std::string(r.name);
  }
  fail("unknown safetensors dtype '" + name + "'", "known dtypes: " + known);
}

int64_t SafetensorsTensorInfo::n_elements() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

// ---- reader ----------------------------------------------------------------------------

std::shared_ptr<SafetensorsFile> SafetensorsFile::open(const std::string& path) {
  std::shared_ptr<SafetensorsFile> f(new SafetensorsFile());
  f->path_ = path;
  f->map_ = MappedFile::open(path);
  f->parse();
  return f;
}

SafetensorsFile::~SafetensorsFile() = default;

void SafetensorsFile::parse() {
  const uint8_t* data = map_->data();
  const uint64_t size = map_->size();
  auto error = [&](const std::string& what, const std::string& hint = kCorruptHint) -> void {
    fail("safetensors file '" + path_ + "': " + what, hint);
  };
  if (size < 8) error("only " + std::to_string(size) + " bytes long; the 8-byte header length is missing");
  uint64_t n = 0;
  std::memcpy(&n, data, 8);
  if (n > kMaxHeaderSize) {
    error("header length " + std::to_string(n) + " exceeds the 100 MB limit",
          size >= 4 && std::memcmp(data, "GGUF", 4) == 0 ? "this is a GGUF file; open it as GGUF" : kCorruptHint);
  }
  if (n > size - 8) {
    error("header length " + std::to_string(n) + " runs past the end of the file (" + std::to_string(size) + " bytes)",
          "the file is truncated; fetch it again");
  }
  data_offset_ = 8 + n;
  const uint64_t data_size = size - data_offset_;
  const std::string text(reinterpret_cast<const char*>(data + 8), static_cast<size_t>(n));
  if (text.empty() || text[0] != '{') error("the header does not start with '{'");

  nlohmann::json header;
  try {
    header = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    error("the header is not valid JSON: " + json_error_text(e));
  }
  if (!header.is_object()) error("the header is not a JSON object");

  for (auto it = header.begin(); it != header.end(); ++it) {
    const std::string& name = it.key();
    const nlohmann::json& v = it.value();
    if (name == "__metadata__") {
      if (!v.is_object()) error("__metadata__ is not an object of strings");
      for (auto m = v.begin(); m != v.end(); ++m) {
        if (!m.value().is_string()) error("__metadata__ value of '" + m.key() + "' is not a string");
        metadata_[m.key()] = m.value().get<std::string>();
      }
      continue;
    }
    const std::string what = "tensor '" + name + "'";
    if (!v.is_object()) error(what + ": its entry is not an object");
    if (!v.contains("dtype") || !v["dtype"].is_string()) error(what + ": missing or non-string \"dtype\"");
    if (!v.contains("shape") || !v["shape"].is_array()) error(what + ": missing or non-array \"shape\"");
    if (!v.contains("data_offsets") || !v["data_offsets"].is_array() || v["data_offsets"].size() != 2) {
      error(what + ": \"data_offsets\" must be [begin, end]");
    }
    SafetensorsTensorInfo t;
    t.name = name;
    try {
      t.dtype = safetensors_dtype_from_name(v["dtype"].get<std::string>());
    } catch (const Error& e) {
      error(what + ": " + e.what(), e.hint());
    }
    for (const auto& d : v["shape"]) {
      if (!d.is_number_unsigned()) error(what + ": shape entries must be non-negative integers");
      const uint64_t u = d.get<uint64_t>();
      if (u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) error(what + ": dimension too large");
      t.shape.push_back(static_cast<int64_t>(u));
    }
    for (int k = 0; k < 2; ++k) {
      if (!v["data_offsets"][k].is_number_unsigned()) error(what + ": data_offsets must be non-negative integers");
    }
    t.begin = v["data_offsets"][0].get<uint64_t>();
    t.end = v["data_offsets"][1].get<uint64_t>();
    if (t.end < t.begin) error(what + ": data_offsets [" + std::to_string(t.begin) + ", " + std::to_string(t.end) + "] end before they begin");
    uint64_t want = 0;
    try {
      want = checked_nbytes(t.shape, safetensors_dtype_size(t.dtype), what);
    } catch (const Error& e) {
      error(e.what());
    }
    if (t.end - t.begin != want) {
      error(what + ": " + safetensors_dtype_name(t.dtype) + " " + shape_string(t.shape) + " needs " +
            std::to_string(want) + " bytes, but data_offsets span " + std::to_string(t.end - t.begin));
    }
    if (t.end > data_size) {
      error(what + ": data_offsets end at " + std::to_string(t.end) + ", past the " + std::to_string(data_size) +
                " bytes of data",
            "the file is truncated; fetch it again");
    }
    tensors_.push_back(std::move(t));
  }

  // The tensors must tile the data section: sorted by offset, each starts where the last ended.
  std::sort(tensors_.begin(), tensors_.end(), [](const SafetensorsTensorInfo& a, const SafetensorsTensorInfo& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  uint64_t at = 0;
  for (size_t i = 0; i < tensors_.size(); ++i) {
    const SafetensorsTensorInfo& t = tensors_[i];
    if (t.begin < at) {
      error("tensors '" + tensors_[i - 1].name + "' and '" + t.name + "' overlap (bytes " + std::to_string(t.begin) +
            ".." + std::to_string(at) + ")");
    }
    if (t.begin > at) {
      error("bytes " + std::to_string(at) + ".." + std::to_string(t.begin) + " of the data (before tensor '" + t.name +
            "') belong to no tensor");
    }
    at = t.end;
    index_.emplace(t.name, i);
  }
  if (at != data_size) {
    error("the file has " + std::to_string(data_size - at) + " bytes after the last tensor's data");
  }
}

const SafetensorsTensorInfo* SafetensorsFile::find_tensor(const std::string& name) const {
  auto it = index_.find(name);
  return it == index_.end() ? nullptr : &tensors_[it->second];
}

const SafetensorsTensorInfo& SafetensorsFile::tensor(const std::string& name) const {
  const SafetensorsTensorInfo* t = find_tensor(name);
  if (t == nullptr) {
    fail("safetensors file '" + path_ + "' has no tensor '" + name + "'",
         "the checkpoint may be of a different architecture than expected");
  }
  return *t;
}

const uint8_t* SafetensorsFile::tensor_data(const SafetensorsTensorInfo& info) const {
  const SafetensorsTensorInfo* own = &info;
  if (tensors_.empty() || own < tensors_.data() || own >= tensors_.data() + tensors_.size()) {
    own = find_tensor(info.name);
    if (own == nullptr || own->begin != info.begin || own->end != info.end) {
      fail("tensor info '" + info.name + "' does not belong to safetensors file '" + path_ + "'");
    }
  }
  return map_->data() + data_offset_ + own->begin;
}

std::vector<float> SafetensorsFile::to_float(const SafetensorsTensorInfo& info) const {
  const uint8_t* p = tensor_data(info);
  const size_t n = static_cast<size_t>(info.n_elements());
  std::vector<float> out(n);
  switch (info.dtype) {
    case SafetensorsDType::F32:
      if (n) std::memcpy(out.data(), p, n * 4);
      break;
    case SafetensorsDType::F16:
    case SafetensorsDType::BF16:
      for (size_t i = 0; i < n; ++i) {
        uint16_t h;
        std::memcpy(&h, p + 2 * i, 2);
        out[i] = info.dtype == SafetensorsDType::F16 ? fp16_to_fp32(h) : bf16_to_fp32(h);
      }
      break;
    case SafetensorsDType::F64:
      for (size_t i = 0; i < n; ++i) {
        double d;
        std::memcpy(&d, p + 8 * i, 8);
        out[i] = static_cast<float>(d);
      }
      break;
    default:
      fail("tensor '" + info.name + "' in '" + path_ + "' is " + safetensors_dtype_name(info.dtype) +
               ", not a floating-point dtype",
           "only F32, F16, BF16 and F64 tensors convert to float");
  }
  return out;
}

// ---- writer ----------------------------------------------------------------------------

void SafetensorsWriter::set_metadata(const std::string& key, const std::string& value) { metadata_[key] = value; }

void SafetensorsWriter::add(Tensor t) {
  if (t.name.empty()) fail("SafetensorsWriter: a tensor needs a name");
  if (t.name == "__metadata__") fail("SafetensorsWriter: '__metadata__' is reserved and cannot name a tensor");
  if (has_tensor(t.name)) fail("SafetensorsWriter: duplicate tensor name '" + t.name + "'");
  t.n_bytes = checked_nbytes(t.shape, safetensors_dtype_size(t.dtype), "SafetensorsWriter: tensor '" + t.name + "'");
  tensors_.push_back(std::move(t));
}

void SafetensorsWriter::add_tensor(const std::string& name, SafetensorsDType dtype, std::vector<int64_t> shape,
                                   std::vector<uint8_t> bytes) {
  const uint64_t have = bytes.size();
  add(Tensor{name, dtype, std::move(shape), 0, std::move(bytes), nullptr});
  if (have != tensors_.back().n_bytes) {
    const Tensor& t = tensors_.back();
    const std::string msg = "SafetensorsWriter: tensor '" + name + "' has " + std::to_string(have) + " bytes, but " +
                            safetensors_dtype_name(dtype) + " " + shape_string(t.shape) + " needs " +
                            std::to_string(t.n_bytes);
    tensors_.pop_back();
    fail(msg);
  }
}

void SafetensorsWriter::add_tensor_view(const std::string& name, SafetensorsDType dtype, std::vector<int64_t> shape,
                                        const void* data) {
  add(Tensor{name, dtype, std::move(shape), 0, {}, static_cast<const uint8_t*>(data)});
  if (data == nullptr && tensors_.back().n_bytes > 0) {
    tensors_.pop_back();
    fail("SafetensorsWriter: tensor '" + name + "' has no data (null pointer)");
  }
}

void SafetensorsWriter::add_f32(const std::string& name, std::vector<int64_t> shape, const std::vector<float>& values) {
  std::vector<uint8_t> bytes(values.size() * 4);
  if (!values.empty()) std::memcpy(bytes.data(), values.data(), bytes.size());
  add_tensor(name, SafetensorsDType::F32, std::move(shape), std::move(bytes));
}

bool SafetensorsWriter::has_tensor(const std::string& name) const {
  for (const Tensor& t : tensors_) {
    if (t.name == name) return true;
  }
  return false;
}

std::vector<const SafetensorsWriter::Tensor*> SafetensorsWriter::ordered() const {
  // As the reference implementation: descending dtype (alignment), then name (bytewise).
  std::vector<const Tensor*> order;
  for (const Tensor& t : tensors_) order.push_back(&t);
  std::stable_sort(order.begin(), order.end(), [](const Tensor* a, const Tensor* b) {
    if (a->dtype != b->dtype) return a->dtype > b->dtype;
    return a->name < b->name;
  });
  return order;
}

std::string SafetensorsWriter::header() const {
  nlohmann::ordered_json j = nlohmann::ordered_json::object();
  if (!metadata_.empty()) {
    nlohmann::ordered_json m = nlohmann::ordered_json::object();
    for (const auto& kv : metadata_) m[kv.first] = kv.second;  // std::map: sorted keys
    j["__metadata__"] = std::move(m);
  }
  uint64_t offset = 0;
  for (const Tensor* t : ordered()) {
    nlohmann::ordered_json e = nlohmann::ordered_json::object();
    e["dtype"] = safetensors_dtype_name(t->dtype);
    e["shape"] = t->shape;
    e["data_offsets"] = {offset, offset + t->n_bytes};
    offset += t->n_bytes;
    j[t->name] = std::move(e);
  }
  std::string text = json_text(j);  // never throws: invalid UTF-8 in a name becomes U+FFFD
  text.append((8 - text.size() % 8) % 8, ' ');
  return text;
}

std::vector<uint8_t> SafetensorsWriter::to_bytes() const {
  const std::string h = header();
  const std::vector<const Tensor*> order = ordered();
  uint64_t total = 8 + h.size();
  for (const Tensor* t : order) total += t->n_bytes;
  std::vector<uint8_t> out(static_cast<size_t>(total));
  const uint64_t n = h.size();
  std::memcpy(out.data(), &n, 8);
  std::memcpy(out.data() + 8, h.data(), h.size());
  size_t at = 8 + h.size();
  for (const Tensor* t : order) {
    const uint8_t* p = t->owned.empty() ? t->view : t->owned.data();
    if (t->n_bytes) std::memcpy(out.data() + at, p, static_cast<size_t>(t->n_bytes));
    at += static_cast<size_t>(t->n_bytes);
  }
  return out;
}

void SafetensorsWriter::write(const std::string& path) const {
  const std::string h = header();
  AtomicFile file(path);
  const uint64_t n = h.size();
  file.write(&n, 8);
  file.write(h.data(), h.size());
  for (const Tensor* t : ordered()) {
    const uint8_t* p = t->owned.empty() ? t->view : t->owned.data();
    if (t->n_bytes) file.write(p, static_cast<size_t>(t->n_bytes));
  }
  file.commit();
}

// ---- sharded checkpoints ---------------------------------------------------------------

SafetensorsModel SafetensorsModel::open(const std::string& path) {
  namespace fs = std::filesystem;
  SafetensorsModel model;
  model.path_ = path;
  fs::path index_path;
  fs::path single_path;
  std::error_code ec;
  if (fs::is_directory(path, ec)) {
    if (fs::exists(fs::path(path) / "model.safetensors.index.json", ec)) {
      index_path = fs::path(path) / "model.safetensors.index.json";
    } else if (fs::exists(fs::path(path) / "model.safetensors", ec)) {
      single_path = fs::path(path) / "model.safetensors";
    } else {
      fail("'" + path + "' has neither model.safetensors nor model.safetensors.index.json",
           "point at a Hugging Face model directory with safetensors weights");
    }
  } else if (path.size() >= 5 && path.compare(path.size() - 5, 5, ".json") == 0) {
    index_path = path;
  } else {
    single_path = path;
  }

  if (!single_path.empty()) {
    auto file = SafetensorsFile::open(single_path.string());
    for (const SafetensorsTensorInfo& t : file->tensors()) model.entries_[t.name] = Entry{file.get(), &t};
    model.shards_.push_back(std::move(file));
    return model;
  }

  const nlohmann::json index = read_json_file(index_path.string(), "safetensors index");
  if (!index.is_object() || !index.contains("weight_map") || !index["weight_map"].is_object()) {
    fail("safetensors index '" + index_path.string() + "' has no \"weight_map\" object",
         "a Hugging Face index maps each tensor name to its shard file");
  }
  std::map<std::string, std::shared_ptr<SafetensorsFile>> by_file;
  const fs::path dir = index_path.parent_path();
  for (auto it = index["weight_map"].begin(); it != index["weight_map"].end(); ++it) {
    if (!it.value().is_string()) {
      fail("safetensors index '" + index_path.string() + "': weight_map entry '" + it.key() + "' is not a file name");
    }
    const std::string shard = it.value().get<std::string>();
    if (shard.find('/') != std::string::npos || shard == ".." || shard.empty()) {
      fail("safetensors index '" + index_path.string() + "': shard name '" + shard + "' is not a plain file name");
    }
    auto f = by_file.find(shard);
    if (f == by_file.end()) {
      const fs::path shard_path = dir / shard;
      if (!fs::exists(shard_path, ec)) {
        fail("safetensors index '" + index_path.string() + "' lists shard '" + shard + "', which is missing",
             "download every model-*.safetensors file listed in the index");
      }
      f = by_file.emplace(shard, SafetensorsFile::open(shard_path.string())).first;
      model.shards_.push_back(f->second);
    }
    const SafetensorsTensorInfo* info = f->second->find_tensor(it.key());
    if (info == nullptr) {
      fail("safetensors index '" + index_path.string() + "' places tensor '" + it.key() + "' in '" + shard +
               "', which does not contain it",
           "the index and the shards are from different downloads; fetch them again");
    }
    model.entries_[it.key()] = Entry{f->second.get(), info};
  }
  return model;
}

SafetensorsModel::Entry SafetensorsModel::find(const std::string& name) const {
  auto it = entries_.find(name);
  return it == entries_.end() ? Entry{} : it->second;
}

SafetensorsModel::Entry SafetensorsModel::get(const std::string& name) const {
  auto it = entries_.find(name);
  if (it == entries_.end()) {
    fail("safetensors checkpoint '" + path_ + "' has no tensor '" + name + "'",
         "the checkpoint may be of a different architecture than expected");
  }
  return it->second;
}

std::vector<std::string> SafetensorsModel::tensor_names() const {
  std::vector<std::string> names;
  for (const auto& kv : entries_) names.push_back(kv.first);
  return names;
}

}  // namespace steer
