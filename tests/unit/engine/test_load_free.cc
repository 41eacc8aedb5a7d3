// Loading and freeing a model repeatedly leaks nothing. In the sanitizer build
// (scripts/sanitize_tests.sh) LeakSanitizer checks the heap after the cycles; in the normal build
// the heap in use (glibc mallinfo2) after five load/free cycles must equal that after the first
// within 1 MiB (a leak of the tiny model's weights, 1 MB, or of its tokenizer would show).
#include <gtest/gtest.h>
#include <malloc.h>

#include "steer/model.h"
#include "steer/tokenizer.h"
#include "test_paths.h"

#if defined(__SANITIZE_ADDRESS__)
#define STEER_TEST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define STEER_TEST_ASAN 1
#endif
#endif
#ifdef STEER_TEST_ASAN
#include <sanitizer/lsan_interface.h>
#endif

namespace steer {
namespace {

// Bytes malloc has handed out and not got back: heap chunks plus mmapped ones.
size_t heap_in_use() {
  const struct mallinfo2 info = mallinfo2();
  return info.uordblks + info.hblkhd;
}

void load_use_free() {
  LoadOptions o;
  o.dtype = DType::kFloat32;
  o.progress = false;
  std::shared_ptr<Model> m = Model::load(test::tiny_model(), o);
  std::vector<int32_t> ids = m->tokenizer().encode("Once upon a time", true);
  ASSERT_FALSE(ids.empty());
}

TEST(LoadFree, RepeatedLoadsLeaveNothingBehind) {
  load_use_free();  // first use: libtorch's and the allocator's one-time state
#ifdef STEER_TEST_ASAN
  for (int i = 0; i < 3; ++i) load_use_free();
  EXPECT_EQ(__lsan_do_recoverable_leak_check(), 0) << "LeakSanitizer found leaks (report above)";
#else
  const size_t after_first = heap_in_use();
  for (int i = 0; i < 4; ++i) load_use_free();
  const size_t after_five = heap_in_use();
  EXPECT_LT(after_five, after_first + (size_t(1) << 20))
      << "heap in use grew from " << after_first << " to " << after_five << " bytes over four load/free cycles";
#endif
}

}  // namespace
}  // namespace steer
