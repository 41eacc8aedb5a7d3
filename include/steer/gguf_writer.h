// GGUF writer: builds a GGUF v3 file (metadata + tensors) and writes it atomically.
//
// Metadata keeps insertion order (set() on an existing key replaces its value in place).
// Tensors are written in the order added, each at an offset aligned to general.alignment
// (default 32) and padded to it, exactly as gguf-py's GGUFWriter lays files out, so the same
// content gives the same bytes (tested against a file written by gguf-py).
//
// Tensor data is not copied when added: pass bytes you own (moved in), a pointer that stays
// valid until write() returns, a tensor of an open GGUFFile (kept alive by the writer), or a
// callback that fills the bytes at write time (so a 500 MB model is never held twice).
//
// write(path) writes PATH.tmp-<pid>, fsyncs it, renames it over PATH and fsyncs the
// directory: PATH is either the old file or the complete new one, never half-written.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "steer/ggml_types.h"
#include "steer/gguf.h"

namespace steer {

class GGUFWriter {
 public:
  // Fills exactly `n_bytes` bytes at `dst` (the size the tensor's type and dims imply).
  using FillFn = std::function<void(uint8_t* dst, size_t n_bytes)>;

  GGUFWriter() = default;

  // ---- metadata ----
  void set(const std::string& key, GGUFValue value);  // insert or replace (keeps position)
  void set_string(const std::string& key, std::string v) { set(key, GGUFValue::string(std::move(v))); }
  void set_u32(const std::string& key, uint32_t v) { set(key, GGUFValue::u32(v)); }
  void set_i32(const std::string& key, int32_t v) { set(key, GGUFValue::i32(v)); }
  void set_u64(const std::string& key, uint64_t v) { set(key, GGUFValue::u64(v)); }
  void set_f32(const std::string& key, float v) { set(key, GGUFValue::f32(v)); }
  void set_bool(const std::string& key, bool v) { set(key, GGUFValue::boolean(v)); }
  void set_strings(const std::string& key, std::vector<std::string> v) { set(key, GGUFValue::strings(std::move(v))); }
  void set_floats(const std::string& key, const std::vector<float>& v) { set(key, GGUFValue::floats(v)); }
  bool remove(const std::string& key);  // true if it was there
  bool has(const std::string& key) const;
  const GGUFValue* find(const std::string& key) const;  // nullptr if absent
  const std::vector<std::pair<std::string, GGUFValue>>& metadata() const { return metadata_; }

  // Sets general.alignment (UINT32, a power of two) and uses it for tensor data.
  void set_alignment(uint32_t alignment);
  size_t alignment() const;  // general.alignment if set, else 32

  // Copies every key/value of `src` in file order (replacing keys already set here).
  void copy_metadata_from(const GGUFFile& src);

  // ---- tensors (ne in GGUF order, ne[0] contiguous) ----
  // Owned bytes; their size must equal ggml_nbytes(type, ne), else steer::Error.
  void add_tensor(const std::string& name, std::vector<int64_t> ne, GGMLType type, std::vector<uint8_t> bytes);
  // Borrowed bytes: `data` must stay valid until write() returns.
  void add_tensor_view(const std::string& name, std::vector<int64_t> ne, GGMLType type, const void* data);
  // Bytes produced at write time.
  void add_tensor_fill(const std::string& name, std::vector<int64_t> ne, GGMLType type, FillFn fill);
  // A tensor of an open file, unchanged (the writer keeps `src` alive). `name` defaults to its own.
  void add_tensor_from(std::shared_ptr<const GGUFFile> src, const GGUFTensorInfo& info, const std::string& name = "");
  // Every tensor of `src`, in file order, unchanged.
  void copy_tensors_from(std::shared_ptr<const GGUFFile> src);
  bool remove_tensor(const std::string& name);  // true if it was there
  bool has_tensor(const std::string& name) const;
  std::vector<std::string> tensor_names() const;

  // Writes the file atomically (see above). Throws steer::Error naming the path on failure,
  // leaving any existing file at `path` untouched.
  void write(const std::string& path) const;

  // The complete file image in memory (for tests and small files).
  std::vector<uint8_t> to_bytes() const;

  // Where emitted bytes go (a file or memory).
  struct ByteSink {
    virtual ~ByteSink() = default;
    virtual void write(const void* data, size_t n) = 0;
  };

 private:
  struct Tensor {
    std::string name;
    std::vector<int64_t> ne;
    GGMLType type;
    uint64_t n_bytes;
    std::vector<uint8_t> owned;
    const uint8_t* view = nullptr;
    FillFn fill;
    std::shared_ptr<const GGUFFile> keep_alive;
  };
  void add(Tensor t);
  void emit(ByteSink& sink) const;

  std::vector<std::pair<std::string, GGUFValue>> metadata_;
  std::vector<Tensor> tensors_;
};

}  // namespace steer
