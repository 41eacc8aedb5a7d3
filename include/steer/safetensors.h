// Safetensors: the Hugging Face tensor file format (spec: huggingface/safetensors README).
//
//   u64 N (little-endian) | N bytes of JSON header | data
//   header: {"__metadata__": {str: str}, "<name>": {"dtype": "F32", "shape": [2, 3],
//            "data_offsets": [begin, end]}, ...}   offsets are relative to the data start
//
// SafetensorsFile memory-maps a file and validates the header the way the reference
// implementation does: header at most 100 MB, valid UTF-8 JSON, known dtypes, and tensor
// byte ranges that match dtype × shape and tile the data section exactly (no overlap, no
// hole, nothing after the last tensor). Anything else is a steer::Error naming the file and
// the tensor. Shapes are row-major (PyTorch order, the last dimension is contiguous).
//
// SafetensorsWriter writes files byte-identical to the `safetensors` Python package's
// (tensors ordered by dtype alignment then name, compact JSON, header padded with spaces to
// a multiple of 8), atomically (temp file, fsync, rename).
//
// SafetensorsModel opens a Hugging Face checkpoint: one model.safetensors, or the shards
// listed in model.safetensors.index.json, as one name → tensor map.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

namespace steer {

class MappedFile;

// In the reference implementation's order (increasing alignment), which fixes write order.
enum class SafetensorsDType : uint8_t { BOOL, U8, I8, F8_E5M2, F8_E4M3, I16, U16, F16, BF16, I32, U32, F32, F64, I64, U64 };

const char* safetensors_dtype_name(SafetensorsDType dtype);  // "F32"
size_t safetensors_dtype_size(SafetensorsDType dtype);       // bytes per element
// Throws steer::Error listing the known names for an unknown one.
SafetensorsDType safetensors_dtype_from_name(const std::string& name);

struct SafetensorsTensorInfo {
  std::string name;
  SafetensorsDType dtype = SafetensorsDType::F32;
  std::vector<int64_t> shape;  // row-major; empty = scalar
  uint64_t begin = 0;          // byte range in the data section
  uint64_t end = 0;

  int64_t n_elements() const;
  uint64_t n_bytes() const { return end - begin; }
};

class SafetensorsFile {
 public:
  static std::shared_ptr<SafetensorsFile> open(const std::string& path);
  ~SafetensorsFile();
  SafetensorsFile(const SafetensorsFile&) = delete;
  SafetensorsFile& operator=(const SafetensorsFile&) = delete;

  const std::string& path() const { return path_; }
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  const std::vector<SafetensorsTensorInfo>& tensors() const { return tensors_; }  // by offset
  const SafetensorsTensorInfo* find_tensor(const std::string& name) const;      // nullptr if absent
  const SafetensorsTensorInfo& tensor(const std::string& name) const;           // throws if absent
  // The tensor's bytes inside the mapping (valid while this object lives). Not necessarily
  // aligned to the dtype: memcpy, or use to_float().
  const uint8_t* tensor_data(const SafetensorsTensorInfo& info) const;
  // F32, F16, BF16 or F64 data converted to float32 (F64 rounds); other dtypes throw.
  std::vector<float> to_float(const SafetensorsTensorInfo& info) const;
  uint64_t data_offset() const { return data_offset_; }  // 8 + header length

 private:
  SafetensorsFile() = default;
  void parse();
  std::string path_;
  std::unique_ptr<MappedFile> map_;
  std::map<std::string, std::string> metadata_;
  std::vector<SafetensorsTensorInfo> tensors_;
  std::unordered_map<std::string, size_t> index_;
  uint64_t data_offset_ = 0;
};

class SafetensorsWriter {
 public:
  void set_metadata(const std::string& key, const std::string& value);
  const std::map<std::string, std::string>& metadata() const { return metadata_; }

  // Owned bytes; their size must equal the dtype size × the element count.
  void add_tensor(const std::string& name, SafetensorsDType dtype, std::vector<int64_t> shape, std::vector<uint8_t> bytes);
  // Borrowed bytes: `data` must stay valid until write()/to_bytes() returns.
  void add_tensor_view(const std::string& name, SafetensorsDType dtype, std::vector<int64_t> shape, const void* data);
  // Convenience: float32 values copied in.
  void add_f32(const std::string& name, std::vector<int64_t> shape, const std::vector<float>& values);
  bool has_tensor(const std::string& name) const;

  void write(const std::string& path) const;  // atomic; throws steer::Error naming the path
  std::vector<uint8_t> to_bytes() const;

 private:
  struct Tensor {
    std::string name;
    SafetensorsDType dtype;
    std::vector<int64_t> shape;
    uint64_t n_bytes;
    std::vector<uint8_t> owned;
    const uint8_t* view;
  };
  void add(Tensor t);
  std::string header() const;  // the JSON header, padded with spaces to a multiple of 8
  std::vector<const Tensor*> ordered() const;
  std::map<std::string, std::string> metadata_;
  std::vector<Tensor> tensors_;
};

// A Hugging Face checkpoint's tensors, possibly sharded.
class SafetensorsModel {
 public:
  // `path`: a directory (model.safetensors.index.json if present, else model.safetensors),
  // an index .json file, or a single .safetensors file. Throws steer::Error naming the file
  // when the index is malformed, a shard is missing, or a listed tensor is not in its shard.
  static SafetensorsModel open(const std::string& path);

  struct Entry {
    const SafetensorsFile* file = nullptr;
    const SafetensorsTensorInfo* info = nullptr;
  };
  bool has(const std::string& name) const { return entries_.count(name) != 0; }
  Entry find(const std::string& name) const;  // {nullptr, nullptr} if absent
  Entry get(const std::string& name) const;   // throws naming the model if absent
  std::vector<std::string> tensor_names() const;  // sorted
  const std::vector<std::shared_ptr<SafetensorsFile>>& shards() const { return shards_; }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  std::vector<std::shared_ptr<SafetensorsFile>> shards_;
  std::map<std::string, Entry> entries_;
};

}  // namespace steer
