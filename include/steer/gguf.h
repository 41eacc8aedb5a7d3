// GGUF reader: the model file format of llama.cpp (spec: ggml-org/ggml docs/gguf.md).
//
// A GGUFFile memory-maps the file read-only, parses the header, every metadata key/value
// (all 13 value types, arrays of any type including nested arrays) and the tensor infos,
// and then hands out pointers into the mapping: nothing is copied, and tensor data is only
// read when you touch it. Versions 2 and 3 (little-endian) are read; v1 and big-endian
// files are refused with a hint.
//
// Every read is bounds-checked against the mapped size: a truncated or corrupt file (bad
// magic, absurd counts or lengths, unknown types, misaligned or out-of-range tensor data,
// duplicate names) gives a steer::Error naming the file and what is wrong, never a crash.
//
// Tensor dims are in GGUF/ggml order: ne[0] is the fastest-varying (contiguous) dimension,
// so a PyTorch weight of shape [out, in] is stored with ne = {in, out}.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "steer/ggml_types.h"

namespace steer {

class MappedFile;

// Metadata value types, numbered as in the GGUF spec.
enum class GGUFValueType : uint32_t {
  UINT8 = 0,
  INT8 = 1,
  UINT16 = 2,
  INT16 = 3,
  UINT32 = 4,
  INT32 = 5,
  FLOAT32 = 6,
  BOOL = 7,
  STRING = 8,
  ARRAY = 9,
  UINT64 = 10,
  INT64 = 11,
  FLOAT64 = 12,
};

const char* gguf_value_type_name(GGUFValueType type);  // "UINT32", "ARRAY", "type 42?"

// One metadata value: a type tag and the value. Arrays keep their element type, so a value
// read from a file writes back with the same bytes (FLOAT32 is held as an exact double; only
// a signalling NaN would come back quiet). Accessors throw steer::Error when the
// type does not fit (GGUFFile's getters add the key and file to that message).
class GGUFValue {
 public:
  GGUFValue() = default;  // UINT8 0

  // Scalars.
  static GGUFValue u8(uint8_t v);
  static GGUFValue i8(int8_t v);
  static GGUFValue u16(uint16_t v);
  static GGUFValue i16(int16_t v);
  static GGUFValue u32(uint32_t v);
  static GGUFValue i32(int32_t v);
  static GGUFValue u64(uint64_t v);
  static GGUFValue i64(int64_t v);
  static GGUFValue f32(float v);
  static GGUFValue f64(double v);
  static GGUFValue boolean(bool v);
  static GGUFValue string(std::string v);

  // Arrays. `element` is the element type; integer values must fit it (UINT64 elements are
  // passed as their two's-complement int64 bit pattern), else steer::Error.
  static GGUFValue strings(std::vector<std::string> v);
  static GGUFValue ints(GGUFValueType element, std::vector<int64_t> v);
  static GGUFValue floats(GGUFValueType element, std::vector<double> v);  // FLOAT32/FLOAT64
  static GGUFValue floats(const std::vector<float>& v);                 // FLOAT32
  static GGUFValue bools(const std::vector<bool>& v);
  // An array of arrays; every inner value must be an ARRAY.
  static GGUFValue arrays(std::vector<GGUFValue> v);

  GGUFValueType type() const { return type_; }
  bool is_array() const { return type_ == GGUFValueType::ARRAY; }
  GGUFValueType element_type() const;  // ARRAY only
  size_t size() const;                 // array length; ARRAY only

  bool is_integer() const;  // UINT8..INT64 (not BOOL)
  bool is_float() const;    // FLOAT32, FLOAT64
  bool is_string() const { return type_ == GGUFValueType::STRING; }
  bool is_bool() const { return type_ == GGUFValueType::BOOL; }

  int64_t as_int() const;    // any integer type; a UINT64 above INT64_MAX throws
  uint64_t as_uint() const;  // any integer type; negative values throw
  double as_float() const;   // FLOAT32 or FLOAT64
  bool as_bool() const;      // BOOL
  const std::string& as_string() const;  // STRING

  const std::vector<std::string>& as_strings() const;  // array of STRING
  std::vector<int64_t> as_ints() const;                // array of any integer type
  std::vector<uint64_t> as_uints() const;              // array of any integer type
  std::vector<double> as_floats() const;               // array of FLOAT32/FLOAT64
  std::vector<bool> as_bools() const;                  // array of BOOL
  const std::vector<GGUFValue>& as_arrays() const;     // array of ARRAY

  // Short human-readable form, arrays elided after `max_elements`: `[1, 2, 3, ... (512)]`.
  std::string to_string(size_t max_elements = 8) const;

  bool operator==(const GGUFValue& other) const;
  bool operator!=(const GGUFValue& other) const { return !(*this == other); }

 private:
  friend class GGUFParser;
  GGUFValueType type_ = GGUFValueType::UINT8;
  GGUFValueType element_ = GGUFValueType::UINT8;  // arrays only
  int64_t int_ = 0;      // integer types and BOOL (UINT64: bit pattern)
  double float_ = 0.0;   // FLOAT32 (exactly) and FLOAT64
  std::string string_;
  std::vector<int64_t> int_elements_;    // integer/BOOL arrays (UINT64: bit patterns)
  std::vector<double> float_elements_;   // float arrays
  std::vector<std::string> string_elements_;
  std::vector<GGUFValue> array_elements_;
};

struct GGUFTensorInfo {
  std::string name;
  std::vector<int64_t> ne;  // GGUF order: ne[0] is the fastest (contiguous) dimension
  GGMLType type = GGMLType::F32;
  uint64_t offset = 0;      // from the start of the data section (a multiple of the alignment)

  int64_t n_elements() const;
  uint64_t n_bytes() const;  // as stored (quantized bytes for quantized types)
};

class GGUFFile {
 public:
  // Maps and parses `path`. Throws steer::Error naming the file on any problem.
  static std::shared_ptr<GGUFFile> open(const std::string& path);
  ~GGUFFile();
  GGUFFile(const GGUFFile&) = delete;
  GGUFFile& operator=(const GGUFFile&) = delete;

  uint32_t version() const { return version_; }
  const std::string& path() const { return path_; }
  size_t file_size() const;

  bool has(const std::string& key) const;
  // Throws steer::Error naming the key and the file when the key is absent.
  const GGUFValue& get(const std::string& key) const;

  // Typed getters. Without a default an absent key throws; with one, an absent key gives
  // the default. A present key of the wrong type always throws (naming key, file, types).
  std::string get_string(const std::string& key) const;
  std::string get_string(const std::string& key, const std::string& fallback) const;
  int64_t get_int(const std::string& key) const;  // any integer type
  int64_t get_int(const std::string& key, int64_t fallback) const;
  double get_float(const std::string& key) const;  // FLOAT32/FLOAT64
  double get_float(const std::string& key, double fallback) const;
  bool get_bool(const std::string& key) const;
  bool get_bool(const std::string& key, bool fallback) const;
  std::vector<std::string> get_strings(const std::string& key) const;
  std::vector<float> get_floats(const std::string& key) const;
  std::vector<int64_t> get_ints(const std::string& key) const;

  // All key/values in file order.
  const std::vector<std::pair<std::string, GGUFValue>>& metadata() const { return metadata_; }

  // Tensor infos in file order.
  const std::vector<GGUFTensorInfo>& tensors() const { return tensors_; }
  const GGUFTensorInfo* find_tensor(const std::string& name) const;  // nullptr if absent
  const GGUFTensorInfo& tensor(const std::string& name) const;       // throws if absent
  // Pointer to the tensor's bytes inside the mapping (valid while this GGUFFile lives).
  const uint8_t* tensor_data(const GGUFTensorInfo& info) const;

  size_t alignment() const { return alignment_; }     // general.alignment, default 32
  uint64_t data_offset() const { return data_offset_; }  // file offset of the data section

 private:
  friend class GGUFParser;
  GGUFFile() = default;
  std::string path_;
  std::unique_ptr<MappedFile> map_;
  uint32_t version_ = 0;
  std::vector<std::pair<std::string, GGUFValue>> metadata_;
  std::unordered_map<std::string, size_t> key_index_;
  std::vector<GGUFTensorInfo> tensors_;
  std::unordered_map<std::string, size_t> tensor_index_;
  size_t alignment_ = 32;
  uint64_t data_offset_ = 0;
};

}  // namespace steer
