// Sampler: Python's `random` module, bit for bit, for the parts the pipelines use — seeding
// with an integer, getrandbits, _randbelow, sample and shuffle (CPython 3.11
// Modules/_randommodule.c and Lib/random.py; the algorithms are unchanged since 3.2).
// Matching Python matters because the refusal-direction paper's train/val prompts are
// `random.seed(42); random.sample(...)` draws; reproducing them lets us extract from the very
// same prompts.
#include <cmath>
#include <unordered_set>

#include "steer/error.h"
#include "steer/prompts.h"

namespace steer {
namespace {

// MT19937 (Matsumoto & Nishimura 1998): init_genrand and init_by_array as in mt19937ar.c.
void init_genrand(std::array<uint32_t, 624>& mt, uint32_t s) {
  mt[0] = s;
  for (uint32_t i = 1; i < 624; ++i) {
    mt[i] = 1812433253u * (mt[i - 1] ^ (mt[i - 1] >> 30)) + i;
  }
}

void init_by_array(std::array<uint32_t, 624>& mt, const std::vector<uint32_t>& key) {
  init_genrand(mt, 19650218u);
  size_t i = 1, j = 0;
  const size_t n = 624;
  for (size_t k = std::max(n, key.size()); k; --k) {
    mt[i] = (mt[i] ^ ((mt[i - 1] ^ (mt[i - 1] >> 30)) * 1664525u)) + key[j] + uint32_t(j);
    ++i;
    ++j;
    if (i >= n) {
      mt[0] = mt[n - 1];
      i = 1;
    }
    if (j >= key.size()) j = 0;
  }
  for (size_t k = n - 1; k; --k) {
    mt[i] = (mt[i] ^ ((mt[i - 1] ^ (mt[i - 1] >> 30)) * 1566083941u)) - uint32_t(i);
    ++i;
    if (i >= n) {
      mt[0] = mt[n - 1];
      i = 1;
    }
  }
  mt[0] = 0x80000000u;  // MSB is 1, assuring a non-zero initial array
}

int bit_length(uint64_t n) {
  int bits = 0;
  while (n) {
    ++bits;
    n >>= 1;
  }
  return bits;
}

}  // namespace

Sampler::Sampler(uint64_t seed) {
  // random.seed(int): the absolute value as 32-bit words, least significant first; 0 → [0].
  std::vector<uint32_t> key = {uint32_t(seed)};
  if (seed >> 32) key.push_back(uint32_t(seed >> 32));
  init_by_array(mt_, key);
  index_ = 624;
}

uint32_t Sampler::next_u32() {
  constexpr uint32_t kUpper = 0x80000000u, kLower = 0x7fffffffu, kMatrixA = 0x9908b0dfu;
  if (index_ >= 624) {
    for (size_t k = 0; k < 624; ++k) {
      uint32_t y = (mt_[k] & kUpper) | (mt_[(k + 1) % 624] & kLower);
      mt_[k] = mt_[(k + 397) % 624] ^ (y >> 1) ^ ((y & 1u) ? kMatrixA : 0u);
    }
    index_ = 0;
  }
  uint32_t y = mt_[index_++];
  y ^= (y >> 11);
  y ^= (y << 7) & 0x9d2c5680u;
  y ^= (y << 15) & 0xefc60000u;
  y ^= (y >> 18);
  return y;
}

uint32_t Sampler::getrandbits(int bits) {
  if (bits <= 0 || bits > 32)
    fail("Sampler::getrandbits: bits must be 1..32, got " + std::to_string(bits));
  return next_u32() >> (32 - bits);
}

uint64_t Sampler::randbelow(uint64_t n) {
  if (n == 0) fail("Sampler::randbelow: n must be at least 1");
  // _randbelow_with_getrandbits: k = n.bit_length() (not of n-1), redraw while r >= n.
  // getrandbits(k > 32) fills 32-bit words from the least significant one; the last word
  // keeps its top k mod 32 bits.
  const int k = bit_length(n);
  for (;;) {
    uint64_t r;
    if (k <= 32) {
      r = next_u32() >> (32 - k);
    } else {
      uint64_t lo = next_u32();
      uint64_t hi = next_u32() >> (64 - k);
      r = lo | (hi << 32);
    }
    if (r < n) return r;
  }
}

std::vector<size_t> Sampler::sample_indices(size_t n, size_t k) {
  if (k > n) k = n;
  std::vector<size_t> result(k);
  // Python picks the algorithm by comparing n with the memory of a k-element set.
  size_t setsize = 21;
  if (k > 5) {
    setsize += size_t(std::pow(4.0, std::ceil(std::log(double(k) * 3.0) / std::log(4.0))));
  }
  if (n <= setsize) {
    // Pool: draw from the not-yet-chosen prefix, moving the last free item into the hole.
    std::vector<size_t> pool(n);
    for (size_t i = 0; i < n; ++i) pool[i] = i;
    for (size_t i = 0; i < k; ++i) {
      size_t j = size_t(randbelow(n - i));
      result[i] = pool[j];
      pool[j] = pool[n - i - 1];
    }
  } else {
    // Set: redraw indices already taken.
    std::unordered_set<size_t> selected;
    for (size_t i = 0; i < k; ++i) {
      size_t j = size_t(randbelow(n));
      while (selected.count(j)) j = size_t(randbelow(n));
      selected.insert(j);
      result[i] = j;
    }
  }
  return result;
}

std::vector<size_t> Sampler::shuffle_indices(size_t n) {
  std::vector<size_t> x(n);
  for (size_t i = 0; i < n; ++i) x[i] = i;
  for (size_t i = n; i-- > 1;) {
    size_t j = size_t(randbelow(i + 1));
    std::swap(x[i], x[j]);
  }
  return x;
}

RefusalSplits sample_refusal_splits(const PromptSet& harmful_train_pool,
                                    const PromptSet& harmless_train_pool,
                                    const PromptSet& harmful_val_pool,
                                    const PromptSet& harmless_val_pool, size_t n_train,
                                    size_t n_val, uint64_t seed) {
  for (const PromptSet* pool :
       {&harmful_train_pool, &harmless_train_pool, &harmful_val_pool, &harmless_val_pool}) {
    if (pool->items.empty()) {
      fail("refusal splits: the prompt set '" + pool->path + "' is empty",
           "load the harmful/harmless train and val sets first");
    }
  }
  // run_pipeline.py: random.seed(42), then sample in exactly this order.
  Sampler rng(seed);
  RefusalSplits s;
  s.harmful_train = rng.sample(harmful_train_pool.items, n_train);
  s.harmless_train = rng.sample(harmless_train_pool.items, n_train);
  s.harmful_val = rng.sample(harmful_val_pool.items, n_val);
  s.harmless_val = rng.sample(harmless_val_pool.items, n_val);
  return s;
}

RefusalSplits split_refusal_prompts(const PromptSet& harmful, const PromptSet& harmless,
                                    size_t n_train, size_t n_val, uint64_t seed) {
  for (const PromptSet* pool : {&harmful, &harmless}) {
    if (pool->items.size() < n_train + n_val) {
      fail("refusal splits: '" + pool->path + "' has " + std::to_string(pool->items.size()) +
               " prompts, fewer than the " + std::to_string(n_train) + " train + " +
               std::to_string(n_val) + " val asked for",
           "ask for fewer prompts or use a larger set");
    }
  }
  Sampler rng(seed);
  std::vector<Prompt> harm = rng.sample(harmful.items, n_train + n_val);
  std::vector<Prompt> safe = rng.sample(harmless.items, n_train + n_val);
  RefusalSplits s;
  s.harmful_train.assign(harm.begin(), harm.begin() + long(n_train));
  s.harmful_val.assign(harm.begin() + long(n_train), harm.end());
  s.harmless_train.assign(safe.begin(), safe.begin() + long(n_train));
  s.harmless_val.assign(safe.begin() + long(n_train), safe.end());
  return s;
}

}  // namespace steer
