// GGUF writer: serializes metadata and tensors as GGUF v3, laid out like gguf-py's GGUFWriter
// (header, key/values, tensor infos, zero padding to the alignment, then each tensor's data
// followed by zero padding to the alignment).
#include "steer/gguf_writer.h"

#include <cstring>

#include "steer/error.h"
#include "io/atomic_file.h"

namespace steer {

namespace {

constexpr uint32_t kVersion = 3;
constexpr size_t kDefaultAlignment = 32;
const char* const kAlignmentKey = "general.alignment";

uint64_t pad_to(uint64_t x, uint64_t a) { return (x + a - 1) / a * a; }

// Appends little-endian encodings to a ByteSink, counting the bytes.
struct Encoder {
  GGUFWriter::ByteSink& sink;
  uint64_t pos = 0;
  void write(const void* p, size_t n) {
    sink.write(p, n);
    pos += n;
  }
  template <class T>
  void put(T v) { write(&v, sizeof(T)); }
  void put_string(const std::string& s) {
    put<uint64_t>(s.size());
    write(s.data(), s.size());
  }
  void put_int(GGUFValueType t, int64_t v) {
    switch (t) {
      case GGUFValueType::UINT8: case GGUFValueType::BOOL: put<uint8_t>(static_cast<uint8_t>(v)); break;
      case GGUFValueType::INT8: put<int8_t>(static_cast<int8_t>(v)); break;
      case GGUFValueType::UINT16: put<uint16_t>(static_cast<uint16_t>(v)); break;
      case GGUFValueType::INT16: put<int16_t>(static_cast<int16_t>(v)); break;
      case GGUFValueType::UINT32: put<uint32_t>(static_cast<uint32_t>(v)); break;
      case GGUFValueType::INT32: put<int32_t>(static_cast<int32_t>(v)); break;
      case GGUFValueType::UINT64: put<uint64_t>(static_cast<uint64_t>(v)); break;
      default: put<int64_t>(v); break;
    }
  }
  void put_float(GGUFValueType t, double v) {
    if (t == GGUFValueType::FLOAT32) put<float>(static_cast<float>(v));
    else put<double>(v);
  }
  // The value without its type tag (the caller writes the tag for top-level values).
  void put_value(const GGUFValue& v) {
    switch (v.type()) {
      case GGUFValueType::STRING: put_string(v.as_string()); break;
      case GGUFValueType::FLOAT32: case GGUFValueType::FLOAT64: put_float(v.type(), v.as_float()); break;
      case GGUFValueType::BOOL: put<uint8_t>(v.as_bool() ? 1 : 0); break;
      case GGUFValueType::ARRAY: put_array(v); break;
      case GGUFValueType::UINT64: put<uint64_t>(v.as_uint()); break;
      default: put_int(v.type(), v.as_int()); break;
    }
  }
  void put_array(const GGUFValue& v) {
    const GGUFValueType et = v.element_type();
    put<uint32_t>(static_cast<uint32_t>(et));
    put<uint64_t>(v.size());
    switch (et) {
      case GGUFValueType::STRING:
        for (const std::string& s : v.as_strings()) put_string(s);
        break;
      case GGUFValueType::ARRAY:
        for (const GGUFValue& inner : v.as_arrays()) put_array(inner);
        break;
      case GGUFValueType::FLOAT32: case GGUFValueType::FLOAT64:
        for (double x : v.as_floats()) put_float(et, x);
        break;
      case GGUFValueType::BOOL:
        for (bool b : v.as_bools()) put<uint8_t>(b ? 1 : 0);
        break;
      case GGUFValueType::UINT64:
        for (uint64_t x : v.as_uints()) put<uint64_t>(x);
        break;
      default:
        for (int64_t x : v.as_ints()) put_int(et, x);
        break;
    }
  }
  void put_zeros(uint64_t n) {
    static const uint8_t zeros[256] = {};
    while (n > 0) {
      const size_t k = n < sizeof(zeros) ? static_cast<size_t>(n) : sizeof(zeros);
      write(zeros, k);
      n -= k;
    }
  }
};

struct VectorSink : GGUFWriter::ByteSink {
  explicit VectorSink(std::vector<uint8_t>& o) : out(o) {}
  std::vector<uint8_t>& out;
  void write(const void* p, size_t n) override {
    const uint8_t* b = static_cast<const uint8_t*>(p);
    out.insert(out.end(), b, b + n);
  }
};

struct FileSink : GGUFWriter::ByteSink {
  explicit FileSink(AtomicFile& f) : file(f) {}
  AtomicFile& file;
  void write(const void* p, size_t n) override { file.write(p, n); }
};

void check_alignment_value(const GGUFValue& v) {
  if (v.type() != GGUFValueType::UINT32) {
    fail(std::string("general.alignment must be UINT32, got ") + gguf_value_type_name(v.type()),
         "use GGUFWriter::set_alignment");
  }
  const uint64_t a = v.as_uint();
  if (a == 0 || (a & (a - 1)) != 0) fail("general.alignment " + std::to_string(a) + " is not a power of two");
}

}  // namespace

void GGUFWriter::set(const std::string& key, GGUFValue value) {
  if (key == kAlignmentKey) check_alignment_value(value);
  for (auto& kv : metadata_) {
    if (kv.first == key) {
      kv.second = std::move(value);
      return;
    }
  }
  metadata_.emplace_back(key, std::move(value));
}

bool GGUFWriter::remove(const std::string& key) {
  for (auto it = metadata_.begin(); it != metadata_.end(); ++it) {
    if (it->first == key) {
      metadata_.erase(it);
      return true;
    }
  }
  return false;
}

bool GGUFWriter::has(const std::string& key) const { return find(key) != nullptr; }

const GGUFValue* GGUFWriter::find(const std::string& key) const {
  for (const auto& kv : metadata_) {
    if (kv.first == key) return &kv.second;
  }
  return nullptr;
}

void GGUFWriter::set_alignment(uint32_t alignment) { set(kAlignmentKey, GGUFValue::u32(alignment)); }

size_t GGUFWriter::alignment() const {
  const GGUFValue* v = find(kAlignmentKey);
  return v ? static_cast<size_t>(v->as_uint()) : kDefaultAlignment;
}

void GGUFWriter::copy_metadata_from(const GGUFFile& src) {
  for (const auto& kv : src.metadata()) set(kv.first, kv.second);
}

void GGUFWriter::add(Tensor t) {
  if (t.name.empty()) fail("GGUFWriter: a tensor needs a name");
  if (t.ne.size() > 4) {
    fail("GGUFWriter: tensor '" + t.name + "' has " + std::to_string(t.ne.size()) + " dimensions (GGUF allows 4)");
  }
  if (has_tensor(t.name)) fail("GGUFWriter: duplicate tensor name '" + t.name + "'");
  try {
    t.n_bytes = ggml_nbytes(t.type, t.ne);
  } catch (const Error& e) {
    fail("GGUFWriter: tensor '" + t.name + "': " + e.what(), e.hint());
  }
  tensors_.push_back(std::move(t));
}

void GGUFWriter::add_tensor(const std::string& name, std::vector<int64_t> ne, GGMLType type, std::vector<uint8_t> bytes) {
  Tensor t{name, std::move(ne), type, 0, std::move(bytes), nullptr, nullptr, nullptr};
  const uint64_t have = t.owned.size();
  add(std::move(t));
  if (have != tensors_.back().n_bytes) {
    const uint64_t want = tensors_.back().n_bytes;
    tensors_.pop_back();
    fail("GGUFWriter: tensor '" + name + "' has " + std::to_string(have) + " bytes, but its type " +
         ggml_type_name(type) + " and dims need " + std::to_string(want));
  }
}

void GGUFWriter::add_tensor_view(const std::string& name, std::vector<int64_t> ne, GGMLType type, const void* data) {
  if (data == nullptr) fail("GGUFWriter: tensor '" + name + "' has no data (null pointer)");
  add(Tensor{name, std::move(ne), type, 0, {}, static_cast<const uint8_t*>(data), nullptr, nullptr});
}

void GGUFWriter::add_tensor_fill(const std::string& name, std::vector<int64_t> ne, GGMLType type, FillFn fill) {
  if (!fill) fail("GGUFWriter: tensor '" + name + "' has an empty fill function");
  add(Tensor{name, std::move(ne), type, 0, {}, nullptr, std::move(fill), nullptr});
}

void GGUFWriter::add_tensor_from(std::shared_ptr<const GGUFFile> src, const GGUFTensorInfo& info, const std::string& name) {
  if (!src) fail("GGUFWriter::add_tensor_from: no source file");
  const uint8_t* data = src->tensor_data(info);  // validates that info belongs to src
  add(Tensor{name.empty() ? info.name : name, info.ne, info.type, 0, {}, data, nullptr, std::move(src)});
}

void GGUFWriter::copy_tensors_from(std::shared_ptr<const GGUFFile> src) {
  if (!src) fail("GGUFWriter::copy_tensors_from: no source file");
  for (const GGUFTensorInfo& info : src->tensors()) add_tensor_from(src, info);
}

bool GGUFWriter::remove_tensor(const std::string& name) {
  for (auto it = tensors_.begin(); it != tensors_.end(); ++it) {
    if (it->name == name) {
      tensors_.erase(it);
      return true;
    }
  }
  return false;
}

bool GGUFWriter::has_tensor(const std::string& name) const {
  for (const Tensor& t : tensors_) {
    if (t.name == name) return true;
  }
  return false;
}

std::vector<std::string> GGUFWriter::tensor_names() const {
  std::vector<std::string> names;
  for (const Tensor& t : tensors_) names.push_back(t.name);
  return names;
}

void GGUFWriter::emit(ByteSink& sink) const {
  const uint64_t align = alignment();
  Encoder out{sink};
  out.write("GGUF", 4);
  out.put<uint32_t>(kVersion);
  out.put<uint64_t>(tensors_.size());
  out.put<uint64_t>(metadata_.size());
  for (const auto& kv : metadata_) {
    out.put_string(kv.first);
    out.put<uint32_t>(static_cast<uint32_t>(kv.second.type()));
    out.put_value(kv.second);
  }
  uint64_t offset = 0;
  for (const Tensor& t : tensors_) {
    out.put_string(t.name);
    out.put<uint32_t>(static_cast<uint32_t>(t.ne.size()));
    for (int64_t d : t.ne) out.put<uint64_t>(static_cast<uint64_t>(d));
    out.put<uint32_t>(static_cast<uint32_t>(t.type));
    out.put<uint64_t>(offset);
    offset += pad_to(t.n_bytes, align);
  }
  out.put_zeros(pad_to(out.pos, align) - out.pos);
  std::vector<uint8_t> scratch;
  for (const Tensor& t : tensors_) {
    const uint8_t* data = nullptr;
    if (!t.owned.empty() || t.n_bytes == 0) {
      data = t.owned.data();
    } else if (t.view != nullptr) {
      data = t.view;
    } else {
      scratch.assign(static_cast<size_t>(t.n_bytes), 0);
      try {
        t.fill(scratch.data(), scratch.size());
      } catch (const Error& e) {
        fail("GGUFWriter: producing tensor '" + t.name + "': " + e.what(), e.hint());
      }
      data = scratch.data();
    }
    if (t.n_bytes > 0) out.write(data, static_cast<size_t>(t.n_bytes));
    out.put_zeros(pad_to(t.n_bytes, align) - t.n_bytes);
  }
}

std::vector<uint8_t> GGUFWriter::to_bytes() const {
  std::vector<uint8_t> out;
  VectorSink sink{out};
  emit(sink);
  return out;
}

void GGUFWriter::write(const std::string& path) const {
  AtomicFile file(path);
  FileSink sink{file};
  emit(sink);
  file.commit();
}

}  // namespace steer
