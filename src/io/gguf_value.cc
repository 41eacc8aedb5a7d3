// GGUFValue: construction, typed access and comparison of GGUF metadata values.
#include <cmath>
#include <cstring>
#include <limits>
#include <sstream>

#include "steer/error.h"
#include "steer/gguf.h"

namespace steer {

const char* gguf_value_type_name(GGUFValueType type) {
  switch (type) {
    case GGUFValueType::UINT8: return "UINT8";
    case GGUFValueType::INT8: return "INT8";
    case GGUFValueType::UINT16: return "UINT16";
    case GGUFValueType::INT16: return "INT16";
    case GGUFValueType::UINT32: return "UINT32";
    case GGUFValueType::INT32: return "INT32";
    case GGUFValueType::FLOAT32: return "FLOAT32";
    case GGUFValueType::BOOL: return "BOOL";
    case GGUFValueType::STRING: return "STRING";
    case GGUFValueType::ARRAY: return "ARRAY";
    case GGUFValueType::UINT64: return "UINT64";
    case GGUFValueType::INT64: return "INT64";
    case GGUFValueType::FLOAT64: return "FLOAT64";
  }
  return "unknown type";
}

namespace {

bool is_integer_type(GGUFValueType t) {
  switch (t) {
    case GGUFValueType::UINT8: case GGUFValueType::INT8: case GGUFValueType::UINT16:
    case GGUFValueType::INT16: case GGUFValueType::UINT32: case GGUFValueType::INT32:
    case GGUFValueType::UINT64: case GGUFValueType::INT64:
      return true;
    default:
      return false;
  }
}

bool is_float_type(GGUFValueType t) {
  return t == GGUFValueType::FLOAT32 || t == GGUFValueType::FLOAT64;
}

// Whether int64 `v` (UINT64: a bit pattern) is representable in integer/BOOL type `t`.
bool fits(GGUFValueType t, int64_t v) {
  switch (t) {
    case GGUFValueType::UINT8: return v >= 0 && v <= 0xff;
    case GGUFValueType::INT8: return v >= -128 && v <= 127;
    case GGUFValueType::UINT16: return v >= 0 && v <= 0xffff;
    case GGUFValueType::INT16: return v >= -32768 && v <= 32767;
    case GGUFValueType::UINT32: return v >= 0 && v <= 0xffffffffll;
    case GGUFValueType::INT32: return v >= std::numeric_limits<int32_t>::min() && v <= std::numeric_limits<int32_t>::max();
    case GGUFValueType::UINT64: case GGUFValueType::INT64: return true;
    case GGUFValueType::BOOL: return v == 0 || v == 1;
    default: return false;
  }
}

[[noreturn]] void type_error(GGUFValueType have, const char* want) {
  fail(std::string("GGUF value is ") + gguf_value_type_name(have) + ", expected " + want);
}

[[noreturn]] void array_type_error(GGUFValueType type, GGUFValueType element, const char* want) {
  if (type != GGUFValueType::ARRAY) type_error(type, want);
  fail(std::string("GGUF value is an array of ") + gguf_value_type_name(element) + ", expected " + want);
}

}  // namespace

GGUFValue GGUFValue::u8(uint8_t v) { GGUFValue r; r.type_ = GGUFValueType::UINT8; r.int_ = v; return r; }
GGUFValue GGUFValue::i8(int8_t v) { GGUFValue r; r.type_ = GGUFValueType::INT8; r.int_ = v; return r; }
GGUFValue GGUFValue::u16(uint16_t v) { GGUFValue r; r.type_ = GGUFValueType::UINT16; r.int_ = v; return r; }
GGUFValue GGUFValue::i16(int16_t v) { GGUFValue r; r.type_ = GGUFValueType::INT16; r.int_ = v; return r; }
GGUFValue GGUFValue::u32(uint32_t v) { GGUFValue r; r.type_ = GGUFValueType::UINT32; r.int_ = v; return r; }
GGUFValue GGUFValue::i32(int32_t v) { GGUFValue r; r.type_ = GGUFValueType::INT32; r.int_ = v; return r; }
GGUFValue GGUFValue::u64(uint64_t v) {
  GGUFValue r;
  r.type_ = GGUFValueType::UINT64;
  r.int_ = static_cast<int64_t>(v);
  return r;
}
GGUFValue GGUFValue::i64(int64_t v) { GGUFValue r; r.type_ = GGUFValueType::INT64; r.int_ = v; return r; }
GGUFValue GGUFValue::f32(float v) { GGUFValue r; r.type_ = GGUFValueType::FLOAT32; r.float_ = v; return r; }
GGUFValue GGUFValue::f64(double v) { GGUFValue r; r.type_ = GGUFValueType::FLOAT64; r.float_ = v; return r; }
GGUFValue GGUFValue::boolean(bool v) { GGUFValue r; r.type_ = GGUFValueType::BOOL; r.int_ = v ? 1 : 0; return r; }
GGUFValue GGUFValue::string(std::string v) {
  GGUFValue r;
  r.type_ = GGUFValueType::STRING;
  r.string_ = std::move(v);
  return r;
}

GGUFValue GGUFValue::strings(std::vector<std::string> v) {
  GGUFValue r;
  r.type_ = GGUFValueType::ARRAY;
  r.element_ = GGUFValueType::STRING;
  r.string_elements_ = std::move(v);
  return r;
}

GGUFValue GGUFValue::ints(GGUFValueType element, std::vector<int64_t> v) {
  if (!is_integer_type(element) && element != GGUFValueType::BOOL) {
    fail(std::string("GGUFValue::ints: element type ") + gguf_value_type_name(element) + " is not an integer type");
  }
  for (size_t i = 0; i < v.size(); ++i) {
    if (!fits(element, v[i])) {
      fail("GGUFValue::ints: element " + std::to_string(i) + " = " + std::to_string(v[i]) +
           " does not fit " + gguf_value_type_name(element));
    }
  }
  GGUFValue r;
  r.type_ = GGUFValueType::ARRAY;
  r.element_ = element;
  r.int_elements_ = std::move(v);
  return r;
}

GGUFValue GGUFValue::floats(GGUFValueType element, std::vector<double> v) {
  if (!is_float_type(element)) {
    fail(std::string("GGUFValue::floats: element type ") + gguf_value_type_name(element) + " is not FLOAT32/FLOAT64");
  }
  if (element == GGUFValueType::FLOAT32) {
    for (double& x : v) x = static_cast<float>(x);  // store what the file will hold
  }
  GGUFValue r;
  r.type_ = GGUFValueType::ARRAY;
  r.element_ = element;
  r.float_elements_ = std::move(v);
  return r;
}

GGUFValue GGUFValue::floats(const std::vector<float>& v) {
  return floats(GGUFValueType::FLOAT32, std::vector<double>(v.begin(), v.end()));
}

GGUFValue GGUFValue::bools(const std::vector<bool>& v) {
  std::vector<int64_t> ints(v.size());
  for (size_t i = 0; i < v.size(); ++i) ints[i] = v[i] ? 1 : 0;
  return GGUFValue::ints(GGUFValueType::BOOL, std::move(ints));
}

GGUFValue GGUFValue::arrays(std::vector<GGUFValue> v) {
  for (size_t i = 0; i < v.size(); ++i) {
    if (!v[i].is_array()) {
      fail("GGUFValue::arrays: element " + std::to_string(i) + " is " +
           gguf_value_type_name(v[i].type()) + ", not an array");
    }
  }
  GGUFValue r;
  r.type_ = GGUFValueType::ARRAY;
  r.element_ = GGUFValueType::ARRAY;
  r.array_elements_ = std::move(v);
  return r;
}

GGUFValueType GGUFValue::element_type() const {
  if (!is_array()) type_error(type_, "an array");
  return element_;
}

size_t GGUFValue::size() const {
  if (!is_array()) type_error(type_, "an array");
  switch (element_) {
    case GGUFValueType::STRING: return string_elements_.size();
    case GGUFValueType::ARRAY: return array_elements_.size();
    case GGUFValueType::FLOAT32: case GGUFValueType::FLOAT64: return float_elements_.size();
    default: return int_elements_.size();
  }
}

bool GGUFValue::is_integer() const { return is_integer_type(type_); }
bool GGUFValue::is_float() const { return is_float_type(type_); }

int64_t GGUFValue::as_int() const {
  if (!is_integer()) type_error(type_, "an integer");
  if (type_ == GGUFValueType::UINT64 && int_ < 0) {
    fail("GGUF UINT64 value " + std::to_string(static_cast<uint64_t>(int_)) + " does not fit int64");
  }
  return int_;
}

uint64_t GGUFValue::as_uint() const {
  if (!is_integer()) type_error(type_, "an integer");
  if (type_ != GGUFValueType::UINT64 && int_ < 0) {
    fail("GGUF value " + std::to_string(int_) + " is negative, expected an unsigned integer");
  }
  return static_cast<uint64_t>(int_);
}

double GGUFValue::as_float() const {
  if (!is_float()) type_error(type_, "FLOAT32 or FLOAT64");
  return float_;
}

bool GGUFValue::as_bool() const {
  if (!is_bool()) type_error(type_, "BOOL");
  return int_ != 0;
}

const std::string& GGUFValue::as_string() const {
  if (!is_string()) type_error(type_, "STRING");
  return string_;
}

const std::vector<std::string>& GGUFValue::as_strings() const {
  if (!is_array() || element_ != GGUFValueType::STRING) array_type_error(type_, element_, "an array of STRING");
  return string_elements_;
}

std::vector<int64_t> GGUFValue::as_ints() const {
  if (!is_array() || !is_integer_type(element_)) array_type_error(type_, element_, "an array of integers");
  if (element_ == GGUFValueType::UINT64) {
    for (int64_t v : int_elements_) {
      if (v < 0) fail("GGUF UINT64 array element " + std::to_string(static_cast<uint64_t>(v)) + " does not fit int64");
    }
  }
  return int_elements_;
}

std::vector<uint64_t> GGUFValue::as_uints() const {
  if (!is_array() || !is_integer_type(element_)) array_type_error(type_, element_, "an array of integers");
  std::vector<uint64_t> out(int_elements_.size());
  for (size_t i = 0; i < out.size(); ++i) {
    if (element_ != GGUFValueType::UINT64 && int_elements_[i] < 0) {
      fail("GGUF array element " + std::to_string(int_elements_[i]) + " is negative, expected unsigned");
    }
    out[i] = static_cast<uint64_t>(int_elements_[i]);
  }
  return out;
}

std::vector<double> GGUFValue::as_floats() const {
  if (!is_array() || !is_float_type(element_)) array_type_error(type_, element_, "an array of FLOAT32/FLOAT64");
  return float_elements_;
}

std::vector<bool> GGUFValue::as_bools() const {
  if (!is_array() || element_ != GGUFValueType::BOOL) array_type_error(type_, element_, "an array of BOOL");
  std::vector<bool> out(int_elements_.size());
  for (size_t i = 0; i < out.size(); ++i) out[i] = int_elements_[i] != 0;
  return out;
}

const std::vector<GGUFValue>& GGUFValue::as_arrays() const {
  if (!is_array() || element_ != GGUFValueType::ARRAY) array_type_error(type_, element_, "an array of arrays");
  return array_elements_;
}

namespace {

void put_scalar(std::ostringstream& os, GGUFValueType t, int64_t i, double f, const std::string& s) {
  switch (t) {
    case GGUFValueType::UINT64: os << static_cast<uint64_t>(i); break;
    case GGUFValueType::BOOL: os << (i ? "true" : "false"); break;
    case GGUFValueType::FLOAT32: case GGUFValueType::FLOAT64: os << f; break;
    case GGUFValueType::STRING: {
      os << '"';
      for (size_t k = 0; k < s.size() && k < 80; ++k) {
        char c = s[k];
        if (c == '\n') os << "\\n";
        else if (c == '"') os << "\\\"";
        else os << c;
      }
      os << (s.size() > 80 ? "...\"" : "\"");
      break;
    }
    default: os << i; break;
  }
}

}  // namespace

std::string GGUFValue::to_string(size_t max_elements) const {
  std::ostringstream os;
  os.precision(9);
  if (!is_array()) {
    put_scalar(os, type_, int_, float_, string_);
    return os.str();
  }
  const size_t n = size();
  os << '[';
  for (size_t i = 0; i < n && i < max_elements; ++i) {
    if (i) os << ", ";
    switch (element_) {
      case GGUFValueType::STRING: put_scalar(os, element_, 0, 0, string_elements_[i]); break;
      case GGUFValueType::ARRAY: os << array_elements_[i].to_string(max_elements); break;
      case GGUFValueType::FLOAT32: case GGUFValueType::FLOAT64: put_scalar(os, element_, 0, float_elements_[i], ""); break;
      default: put_scalar(os, element_, int_elements_[i], 0, ""); break;
    }
  }
  if (n > max_elements) os << ", ... (" << n << ")";
  os << ']';
  return os.str();
}

bool GGUFValue::operator==(const GGUFValue& o) const {
  if (type_ != o.type_) return false;
  if (!is_array()) {
    if (is_float()) {
      // Bitwise, so NaN == NaN and 0.0 != -0.0: "the same bytes would be written".
      return std::memcmp(&float_, &o.float_, sizeof(double)) == 0;
    }
    if (is_string()) return string_ == o.string_;
    return int_ == o.int_;
  }
  if (element_ != o.element_) return false;
  switch (element_) {
    case GGUFValueType::STRING: return string_elements_ == o.string_elements_;
    case GGUFValueType::ARRAY: return array_elements_ == o.array_elements_;
    case GGUFValueType::FLOAT32: case GGUFValueType::FLOAT64:
      return float_elements_.size() == o.float_elements_.size() &&
             (float_elements_.empty() ||
              std::memcmp(float_elements_.data(), o.float_elements_.data(), float_elements_.size() * sizeof(double)) == 0);
    default: return int_elements_ == o.int_elements_;
  }
}

}  // namespace steer
