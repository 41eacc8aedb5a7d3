// GGUF reader: parses the header, metadata and tensor infos of a memory-mapped GGUF file.
//
// Layout (little-endian), versions 2 and 3:
//   "GGUF" u32 version | u64 n_tensors | u64 n_kv
//   n_kv × (string key, u32 value type, value)
//   n_tensors × (string name, u32 n_dims, n_dims × u64 ne, u32 ggml type, u64 offset)
//   padding to general.alignment (default 32) | tensor data (offsets are relative to here)
// A string is u64 length + bytes (no terminator). An array value is u32 element type,
// u64 count, elements (nested arrays repeat the array encoding without the outer tag).
#include "steer/gguf.h"

#include <algorithm>
#include <cstring>
#include <limits>

#include "steer/error.h"
#include "io/mmap_file.h"

namespace steer {

namespace {

constexpr size_t kMaxDims = 4;          // GGML_MAX_DIMS
constexpr int kMaxArrayDepth = 16;      // nested arrays deeper than this are surely corrupt
constexpr const char* kTruncatedHint =
    "the file is incomplete or damaged (an interrupted download or copy?); fetch it again";

// Smallest encoding of one value of each type, used to reject absurd counts before
// allocating anything: n elements need at least n * min_size bytes.
size_t min_value_size(GGUFValueType t) {
  switch (t) {
    case GGUFValueType::UINT8: case GGUFValueType::INT8: case GGUFValueType::BOOL: return 1;
    case GGUFValueType::UINT16: case GGUFValueType::INT16: return 2;
    case GGUFValueType::UINT32: case GGUFValueType::INT32: case GGUFValueType::FLOAT32: return 4;
    case GGUFValueType::UINT64: case GGUFValueType::INT64: case GGUFValueType::FLOAT64: return 8;
    case GGUFValueType::STRING: return 8;
    case GGUFValueType::ARRAY: return 12;
  }
  return 0;
}

bool valid_value_type(uint32_t t) { return t <= static_cast<uint32_t>(GGUFValueType::FLOAT64); }

template <class T>
int64_t load(const uint8_t* p) {
  T v;
  std::memcpy(&v, p, sizeof(T));
  return static_cast<int64_t>(v);
}

// One little-endian integer (or BOOL) of type t at p, widened to int64 (UINT64: bit pattern).
int64_t load_int(GGUFValueType t, const uint8_t* p) {
  switch (t) {
    case GGUFValueType::UINT8: case GGUFValueType::BOOL: return load<uint8_t>(p);
    case GGUFValueType::INT8: return load<int8_t>(p);
    case GGUFValueType::UINT16: return load<uint16_t>(p);
    case GGUFValueType::INT16: return load<int16_t>(p);
    case GGUFValueType::UINT32: return load<uint32_t>(p);
    case GGUFValueType::INT32: return load<int32_t>(p);
    case GGUFValueType::UINT64: return load<uint64_t>(p);
    default: return load<int64_t>(p);
  }
}

}  // namespace

// Reads one GGUF file into a GGUFFile; a friend of GGUFFile and GGUFValue.
class GGUFParser {
 public:
  GGUFParser(GGUFFile& file, const uint8_t* data, size_t size) : file_(file), data_(data), size_(size) {}

  void parse() {
    parse_header();
    for (uint64_t i = 0; i < n_kv_; ++i) parse_kv(i);
    resolve_alignment();
    for (uint64_t i = 0; i < n_tensors_; ++i) parse_tensor_info(i);
    const uint64_t a = file_.alignment_;
    file_.data_offset_ = (pos_ + a - 1) / a * a;
    for (const GGUFTensorInfo& t : file_.tensors_) check_tensor_data(t);
  }

 private:
  [[noreturn]] void error(const std::string& what, const std::string& hint = "") const {
    fail("GGUF file '" + file_.path_ + "': " + what, hint + text_copy_hint());
  }

  // Binary files copied as text have bytes that are not UTF-8 replaced by U+FFFD (EF BF BD),
  // which shifts everything after them. Worth saying when it is seen before the failure.
  std::string text_copy_hint() const {
    const size_t end = std::min(size_, pos_ + 64);
    static const uint8_t kFFFD[3] = {0xef, 0xbf, 0xbd};
    for (size_t i = 0; i + 3 <= end; ++i) {
      if (std::memcmp(data_ + i, kFFFD, 3) == 0 && i > 0 && data_[i - 1] != 0xbd) {
        // Legitimate in token strings; suspicious in binary fields. Only a hint.
        if (looks_binary_context(i)) {
          return " (the bytes EF BF BD at offset " + std::to_string(i) +
                 " suggest the file was copied as text, which corrupts binary files; fetch the original bytes)";
        }
      }
    }
    return "";
  }

  // True when U+FFFD at `i` sits where binary data is expected: directly after a value type
  // tag of a number (so inside a number, not inside a string).
  bool looks_binary_context(size_t i) const {
    if (i < 4) return false;
    uint32_t tag;
    std::memcpy(&tag, data_ + i - 4, 4);
    switch (static_cast<GGUFValueType>(tag)) {
      case GGUFValueType::FLOAT32: case GGUFValueType::FLOAT64: case GGUFValueType::UINT32:
      case GGUFValueType::INT32: case GGUFValueType::UINT64: case GGUFValueType::INT64:
        return true;
      default:
        return false;
    }
  }

  void need(uint64_t n, const std::string& what) const {
    if (n > size_ - pos_) {
      error("truncated: " + what + " needs " + std::to_string(n) + " bytes at offset " +
                std::to_string(pos_) + ", but the file ends at " + std::to_string(size_),
            kTruncatedHint);
    }
  }

  template <class T>
  T read(const std::string& what) {
    need(sizeof(T), what);
    T v;
    std::memcpy(&v, data_ + pos_, sizeof(T));
    pos_ += sizeof(T);
    return v;
  }

  std::string read_string(const std::string& what) {
    const uint64_t len = read<uint64_t>("the length of " + what);
    if (len > size_ - pos_) {
      error("string length " + std::to_string(len) + " of " + what + " at offset " + std::to_string(pos_ - 8) +
                " runs past the end of the file (" + std::to_string(size_) + " bytes)",
            kTruncatedHint);
    }
    std::string s(reinterpret_cast<const char*>(data_ + pos_), static_cast<size_t>(len));
    pos_ += len;
    return s;
  }

  void check_count(uint64_t count, size_t min_size, const std::string& what) const {
    if (min_size != 0 && count > (size_ - pos_) / min_size) {
      error(what + " count " + std::to_string(count) + " at offset " + std::to_string(pos_) +
                " cannot fit in the " + std::to_string(size_ - pos_) + " bytes left in the file",
            "the header is corrupt or the file is truncated; fetch it again");
    }
  }

  void parse_header() {
    if (size_ < 4 || std::memcmp(data_, "GGUF", 4) != 0) {
      std::string hint = "this is not a GGUF file";
      if (size_ >= 4 && (std::memcmp(data_, "lmgg", 4) == 0 || std::memcmp(data_, "fmgg", 4) == 0 ||
                         std::memcmp(data_, "tjgg", 4) == 0)) {
        hint = "this is a pre-GGUF ggml file; convert it with llama.cpp's convert scripts";
      } else if (size_ >= 9 && data_[8] == '{') {
        hint = "this looks like a safetensors file; open it as safetensors";
      } else if (size_ < 4) {
        hint = "the file is " + std::to_string(size_) + " bytes long: empty or truncated";
      }
      error("bad magic (expected \"GGUF\" in the first 4 bytes)", hint);
    }
    pos_ = 4;
    const uint32_t version = read<uint32_t>("the version");
    if (version == 1) {
      error("GGUF version 1 is not supported", "convert the file to GGUF v3 with a current llama.cpp");
    }
    if ((version & 0xffffu) == 0 && (version >> 16) != 0) {
      error("this is a big-endian GGUF file (version field " + std::to_string(version) + ")",
            "convert it to little-endian with gguf-py's gguf_convert_endian.py");
    }
    if (version != 2 && version != 3) {
      error("unsupported GGUF version " + std::to_string(version), "only versions 2 and 3 are read");
    }
    file_.version_ = version;
    n_tensors_ = read<uint64_t>("the tensor count");
    n_kv_ = read<uint64_t>("the metadata key/value count");
    check_count(n_kv_, 8 + 4 + 1, "metadata key/value");
    check_count(n_tensors_, 8 + 4 + 4 + 8, "tensor");
  }

  void parse_kv(uint64_t i) {
    const std::string where = "metadata key " + std::to_string(i);
    std::string key = read_string(where);
    const uint32_t type = read<uint32_t>("the type of key '" + key + "'");
    if (!valid_value_type(type)) {
      error("key '" + key + "' has unknown value type " + std::to_string(type), "the header is corrupt");
    }
    if (file_.key_index_.count(key)) error("duplicate metadata key '" + key + "'", "the header is corrupt");
    GGUFValue value = read_value(static_cast<GGUFValueType>(type), key, 0);
    file_.key_index_.emplace(key, file_.metadata_.size());
    file_.metadata_.emplace_back(std::move(key), std::move(value));
  }

  GGUFValue read_value(GGUFValueType type, const std::string& key, int depth) {
    const std::string what = "the value of key '" + key + "'";
    GGUFValue v;
    v.type_ = type;
    switch (type) {
      case GGUFValueType::UINT8: v.int_ = read<uint8_t>(what); break;
      case GGUFValueType::INT8: v.int_ = read<int8_t>(what); break;
      case GGUFValueType::UINT16: v.int_ = read<uint16_t>(what); break;
      case GGUFValueType::INT16: v.int_ = read<int16_t>(what); break;
      case GGUFValueType::UINT32: v.int_ = read<uint32_t>(what); break;
      case GGUFValueType::INT32: v.int_ = read<int32_t>(what); break;
      case GGUFValueType::UINT64: v.int_ = static_cast<int64_t>(read<uint64_t>(what)); break;
      case GGUFValueType::INT64: v.int_ = read<int64_t>(what); break;
      case GGUFValueType::FLOAT32: v.float_ = read<float>(what); break;
      case GGUFValueType::FLOAT64: v.float_ = read<double>(what); break;
      case GGUFValueType::BOOL: {
        const uint8_t b = read<uint8_t>(what);
        if (b > 1) error("key '" + key + "': BOOL value " + std::to_string(b) + " is neither 0 nor 1", "the header is corrupt");
        v.int_ = b;
        break;
      }
      case GGUFValueType::STRING: v.string_ = read_string(what); break;
      case GGUFValueType::ARRAY: read_array(v, key, depth); break;
    }
    return v;
  }

  void read_array(GGUFValue& v, const std::string& key, int depth) {
    if (depth >= kMaxArrayDepth) {
      error("key '" + key + "': arrays nested deeper than " + std::to_string(kMaxArrayDepth), "the header is corrupt");
    }
    const uint32_t et = read<uint32_t>("the element type of array '" + key + "'");
    if (!valid_value_type(et)) {
      error("array '" + key + "' has unknown element type " + std::to_string(et), "the header is corrupt");
    }
    const GGUFValueType element = static_cast<GGUFValueType>(et);
    const uint64_t n = read<uint64_t>("the length of array '" + key + "'");
    check_count(n, min_value_size(element), "array '" + key + "' element");
    v.element_ = element;
    const std::string what = "an element of array '" + key + "'";
    switch (element) {
      case GGUFValueType::STRING:
        v.string_elements_.reserve(n);
        for (uint64_t i = 0; i < n; ++i) v.string_elements_.push_back(read_string(what));
        break;
      case GGUFValueType::ARRAY:
        v.array_elements_.reserve(n);
        for (uint64_t i = 0; i < n; ++i) {
          GGUFValue inner;
          inner.type_ = GGUFValueType::ARRAY;
          read_array(inner, key, depth + 1);
          v.array_elements_.push_back(std::move(inner));
        }
        break;
      case GGUFValueType::FLOAT32: case GGUFValueType::FLOAT64:
        v.float_elements_.resize(n);
        for (uint64_t i = 0; i < n; ++i) {
          v.float_elements_[i] = element == GGUFValueType::FLOAT32 ? read<float>(what) : read<double>(what);
        }
        break;
      default: {
        // Fixed-size integers (and BOOL): bounds were checked by check_count above.
        const size_t w = min_value_size(element);
        v.int_elements_.resize(n);
        const uint8_t* p = data_ + pos_;
        for (uint64_t i = 0; i < n; ++i, p += w) v.int_elements_[i] = load_int(element, p);
        pos_ += n * w;
        if (element == GGUFValueType::BOOL) {
          for (int64_t b : v.int_elements_) {
            if (b > 1) error("array '" + key + "': BOOL element " + std::to_string(b) + " is neither 0 nor 1", "the header is corrupt");
          }
        }
        break;
      }
    }
  }

  void resolve_alignment() {
    auto it = file_.key_index_.find("general.alignment");
    if (it == file_.key_index_.end()) return;
    const GGUFValue& v = file_.metadata_[it->second].second;
    if (v.type() != GGUFValueType::UINT32) {
      error(std::string("general.alignment is ") + gguf_value_type_name(v.type()) + ", expected UINT32",
            "the header is corrupt");
    }
    const uint64_t a = static_cast<uint64_t>(v.int_);
    if (a == 0 || (a & (a - 1)) != 0) {
      error("general.alignment " + std::to_string(a) + " is not a power of two", "the header is corrupt");
    }
    file_.alignment_ = static_cast<size_t>(a);
  }

  void parse_tensor_info(uint64_t i) {
    GGUFTensorInfo t;
    t.name = read_string("the name of tensor " + std::to_string(i));
    const std::string what = "tensor '" + t.name + "'";
    if (file_.tensor_index_.count(t.name)) error("duplicate tensor name '" + t.name + "'", "the header is corrupt");
    const uint32_t n_dims = read<uint32_t>("the dimension count of " + what);
    if (n_dims > kMaxDims) {
      error(what + " has " + std::to_string(n_dims) + " dimensions (at most " + std::to_string(kMaxDims) + ")",
            "the header is corrupt");
    }
    int64_t n_elements = 1;
    for (uint32_t d = 0; d < n_dims; ++d) {
      const uint64_t ne = read<uint64_t>("the dimensions of " + what);
      if (ne > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
        error(what + " has dimension " + std::to_string(ne) + " (too large)", "the header is corrupt");
      }
      t.ne.push_back(static_cast<int64_t>(ne));
      if (ne != 0 && n_elements > std::numeric_limits<int64_t>::max() / static_cast<int64_t>(ne)) {
        error(what + ": element count overflows int64", "the header is corrupt");
      }
      n_elements *= static_cast<int64_t>(ne);
    }
    const uint32_t type = read<uint32_t>("the type of " + what);
    t.type = static_cast<GGMLType>(type);
    if (!ggml_type_known(t.type)) {
      error(what + " has ggml type " + ggml_type_name(t.type) + ", which this build cannot size",
            "re-quantize the model to a common type (e.g. Q4_K_M, Q8_0 or F16)");
    }
    if (!t.ne.empty() && t.ne[0] % ggml_type_traits(t.type).block_size != 0) {
      error(what + " has row length " + std::to_string(t.ne[0]) + ", not a multiple of the " +
                ggml_type_name(t.type) + " block size " + std::to_string(ggml_type_traits(t.type).block_size),
            "the header is corrupt");
    }
    t.offset = read<uint64_t>("the data offset of " + what);
    if (t.offset % file_.alignment_ != 0) {
      error(what + " has data offset " + std::to_string(t.offset) + ", not a multiple of the alignment " +
                std::to_string(file_.alignment_),
            "the header is corrupt");
    }
    file_.tensor_index_.emplace(t.name, file_.tensors_.size());
    file_.tensors_.push_back(std::move(t));
  }

  void check_tensor_data(const GGUFTensorInfo& t) const {
    uint64_t nbytes = 0;
    try {
      nbytes = ggml_nbytes(t.type, t.ne);
    } catch (const Error& e) {
      error("tensor '" + t.name + "': " + e.what(), "the header is corrupt");
    }
    const uint64_t base = file_.data_offset_;
    if (base > size_ || t.offset > size_ - base || nbytes > size_ - base - t.offset) {
      error("the data of tensor '" + t.name + "' (" + std::to_string(nbytes) + " bytes at file offset " +
                std::to_string(base + t.offset) + ") runs past the end of the file (" + std::to_string(size_) +
                " bytes)",
            kTruncatedHint);
    }
  }

  GGUFFile& file_;
  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
  uint64_t n_tensors_ = 0;
  uint64_t n_kv_ = 0;
};

int64_t GGUFTensorInfo::n_elements() const {
  int64_t n = 1;
  for (int64_t d : ne) n *= d;
  return n;
}

uint64_t GGUFTensorInfo::n_bytes() const { return ggml_nbytes(type, ne); }

std::shared_ptr<GGUFFile> GGUFFile::open(const std::string& path) {
  std::shared_ptr<GGUFFile> file(new GGUFFile());
  file->path_ = path;
  file->map_ = MappedFile::open(path);
  GGUFParser(*file, file->map_->data(), file->map_->size()).parse();
  return file;
}

GGUFFile::~GGUFFile() = default;

size_t GGUFFile::file_size() const { return map_->size(); }

bool GGUFFile::has(const std::string& key) const { return key_index_.count(key) != 0; }

const GGUFValue& GGUFFile::get(const std::string& key) const {
  auto it = key_index_.find(key);
  if (it == key_index_.end()) {
    fail("GGUF file '" + path_ + "' has no metadata key '" + key + "'",
         "the model may be of an unsupported architecture, or converted by an old tool");
  }
  return metadata_[it->second].second;
}

namespace {

// Runs `f` on the value and re-throws a type error with the key and file in the message.
template <class F>
auto typed(const GGUFFile& file, const std::string& key, F f) -> decltype(f(file.get(key))) {
  const GGUFValue& v = file.get(key);
  try {
    return f(v);
  } catch (const Error& e) {
    fail("GGUF file '" + file.path() + "': key '" + key + "': " + e.what(),
         "the file does not follow the GGUF conventions for this key");
  }
}

}  // namespace

std::string GGUFFile::get_string(const std::string& key) const {
  return typed(*this, key, [](const GGUFValue& v) { return v.as_string(); });
}
std::string GGUFFile::get_string(const std::string& key, const std::string& fallback) const {
  return has(key) ? get_string(key) : fallback;
}
int64_t GGUFFile::get_int(const std::string& key) const {
  return typed(*this, key, [](const GGUFValue& v) { return v.as_int(); });
}
int64_t GGUFFile::get_int(const std::string& key, int64_t fallback) const {
  return has(key) ? get_int(key) : fallback;
}
double GGUFFile::get_float(const std::string& key) const {
  return typed(*this, key, [](const GGUFValue& v) { return v.as_float(); });
}
double GGUFFile::get_float(const std::string& key, double fallback) const {
  return has(key) ? get_float(key) : fallback;
}
bool GGUFFile::get_bool(const std::string& key) const {
  return typed(*this, key, [](const GGUFValue& v) { return v.as_bool(); });
}
bool GGUFFile::get_bool(const std::string& key, bool fallback) const {
  return has(key) ? get_bool(key) : fallback;
}
std::vector<std::string> GGUFFile::get_strings(const std::string& key) const {
  return typed(*this, key, [](const GGUFValue& v) { return v.as_strings(); });
}
std::vector<float> GGUFFile::get_floats(const std::string& key) const {
  return typed(*this, key, [](const GGUFValue& v) {
    std::vector<double> d = v.as_floats();
    return std::vector<float>(d.begin(), d.end());
  });
}
std::vector<int64_t> GGUFFile::get_ints(const std::string& key) const {
  return typed(*this, key, [](const GGUFValue& v) { return v.as_ints(); });
}

const GGUFTensorInfo* GGUFFile::find_tensor(const std::string& name) const {
  auto it = tensor_index_.find(name);
  return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

const GGUFTensorInfo& GGUFFile::tensor(const std::string& name) const {
  const GGUFTensorInfo* t = find_tensor(name);
  if (t == nullptr) {
    fail("GGUF file '" + path_ + "' has no tensor '" + name + "'",
         "the model may be of a different architecture or size than expected");
  }
  return *t;
}

const uint8_t* GGUFFile::tensor_data(const GGUFTensorInfo& info) const {
  // An info from another file (or a modified copy) could point anywhere: only infos that
  // match one of ours, which were bounds-checked at open, are served.
  const GGUFTensorInfo* own = &info;
  if (tensors_.empty() || own < tensors_.data() || own >= tensors_.data() + tensors_.size()) {
    own = find_tensor(info.name);
    if (own == nullptr || own->offset != info.offset || own->type != info.type || own->ne != info.ne) {
      fail("tensor info '" + info.name + "' does not belong to GGUF file '" + path_ + "'",
           "pass a GGUFTensorInfo obtained from the same GGUFFile");
    }
  }
  return map_->data() + data_offset_ + own->offset;
}

}  // namespace steer
