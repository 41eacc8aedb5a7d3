// The batch runner (steer/runner.h): batch plans, shared prefixes, and the decode batch whose
// rows join and leave between steps. The slot layout rules are BatchState's (steer/batch.h).
#include "steer/runner.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <numeric>
#include <set>

#include "steer/error.h"

namespace steer {

Runner::Runner(const Model& model, BatchOptions options) : model_(model), options_(options) {
  if (options_.batch_size < 1) fail("batch size must be ≥ 1, got " + std::to_string(options_.batch_size));
}

std::vector<std::vector<int64_t>> Runner::plan(const std::vector<EncodedPrompt>& prompts) const {
  std::vector<int64_t> order(prompts.size());
  std::iota(order.begin(), order.end(), 0);
  if (options_.sort_by_length)
    std::stable_sort(order.begin(), order.end(),
                     [&](int64_t a, int64_t b) { return prompts[a].ids.size() < prompts[b].ids.size(); });
  std::vector<std::vector<int64_t>> batches;
  int64_t longest = 0;
  for (int64_t i : order) {
    const int64_t len = int64_t(prompts[i].ids.size());
    const bool full = !batches.empty() && (int64_t(batches.back().size()) == options_.batch_size ||
                                           int64_t(batches.back().size() + 1) * std::max(longest, len) > kMaxBatchTokens);
    if (batches.empty() || full) {
      batches.emplace_back();
      longest = 0;
    }
    batches.back().push_back(i);
    longest = std::max(longest, len);
  }
  return batches;
}

namespace {

// The rows' token ids and instruction ends. A prompt beyond the context is refused here, the
// one door every batch goes through: attention over it would cost memory quadratic in its length.
void gather_rows(const std::vector<EncodedPrompt>& prompts, const std::vector<int64_t>& rows, int64_t context,
                 std::vector<std::vector<int32_t>>& ids, std::vector<int64_t>& starts) {
  if (rows.empty()) fail("runner: a batch needs at least one prompt");
  for (int64_t r : rows) {
    if (r < 0 || r >= int64_t(prompts.size()))
      fail("runner: prompt " + std::to_string(r) + " of " + std::to_string(prompts.size()) + " does not exist");
    if (prompts[r].ids.empty()) fail("runner: prompt " + std::to_string(r) + " has no tokens");
    if (int64_t(prompts[r].ids.size()) > context)
      fail("prompt " + std::to_string(r + 1) + " has " + std::to_string(prompts[r].ids.size()) +
               " tokens; the model's context holds " + std::to_string(context),
           "shorten the prompt (steer tokenize counts its tokens)");
    ids.push_back(prompts[r].ids);
    starts.push_back(prompts[r].instruction_end);
  }
}

}  // namespace

PrefixRun Runner::run_prefix(std::vector<int32_t> ids, int64_t prompt_len, int64_t instruction_end,
                             const ForwardArgs& args, const at::Tensor& resid_pre) const {
  if (ids.empty()) fail("run_prefix: empty prefix");
  if (args.hooks && args.hooks->has_per_row_hooks())
    fail("run_prefix: a per-row hook is attached; a prefix run once stands for every row",
         "run the batch without a shared prefix");
  PrefixRun out;
  at::Tensor tokens = make_batch({ids}, model_.pad_id(), out.state);
  out.state.prompt_len[0] = std::max<int64_t>(prompt_len, int64_t(ids.size()));
  out.state.instruction_end[0] = instruction_end;
  model_.allocate_cache(out.state, int64_t(ids.size()));
  ForwardArgs a = args;
  a.logits = LogitsMode::kNone;
  model_.forward(a.first_layer > 0 ? resid_pre : tokens, out.state, a);
  out.ids = std::move(ids);
  return out;
}

Runner::PrefixPlan Runner::plan_prefix(const std::vector<EncodedPrompt>& prompts, const std::vector<int64_t>& rows,
                                       int64_t keep_last, int64_t max_prefix) const {
  PrefixPlan plan;
  if (!options_.share_prefix) return plan;
  std::vector<std::vector<int32_t>> ids;
  std::vector<int64_t> starts;
  gather_rows(prompts, rows, model_.config().context_length, ids, starts);
  int64_t n = std::min(shared_prefix_length(ids, starts, keep_last), max_prefix);
  if (n < 4) return plan;
  plan.ids.assign(ids[0].begin(), ids[0].begin() + n);
  plan.shortest = int64_t(ids[0].size());
  plan.first_instruction = starts[0];
  for (size_t b = 0; b < ids.size(); ++b) {
    plan.shortest = std::min<int64_t>(plan.shortest, ids[b].size());
    plan.first_instruction = std::min(plan.first_instruction, starts[b]);
  }
  return plan;
}

PromptBatch Runner::prepare(const std::vector<EncodedPrompt>& prompts, const std::vector<int64_t>& rows,
                            const PrepareArgs& args) const {
  const bool per_row = args.prefix_hooks && args.prefix_hooks->has_per_row_hooks();
  PrefixPlan plan;
  if (args.share_prefix && !per_row) plan = plan_prefix(prompts, rows, args.keep_last, args.max_prefix);
  if (plan.ids.empty()) {
    std::vector<std::vector<int32_t>> ids;
    std::vector<int64_t> starts;
    gather_rows(prompts, rows, model_.config().context_length, ids, starts);
    PromptBatch out;
    out.rows = rows;
    out.tokens = make_batch(ids, model_.pad_id(), out.state, starts);
    if (args.cache_slots >= 0) model_.allocate_cache(out.state, out.tokens.size(1) + args.cache_slots);
    out.state.row_id = rows;
    return out;
  }
  ForwardArgs fa;
  fa.hooks = args.prefix_hooks;
  fa.stop_after = args.stop_after;
  PrefixRun head = run_prefix(std::move(plan.ids), plan.shortest, plan.first_instruction, fa);
  return prepare_after(head, prompts, rows, std::max<int64_t>(args.cache_slots, 0));
}

PromptBatch Runner::prepare_after(const PrefixRun& prefix, const std::vector<EncodedPrompt>& prompts,
                                  const std::vector<int64_t>& rows, int64_t cache_slots) const {
  std::vector<std::vector<int32_t>> ids;
  std::vector<int64_t> starts;
  gather_rows(prompts, rows, model_.config().context_length, ids, starts);
  PromptBatch out;
  out.rows = rows;
  out.tokens = make_batch_after_prefix(prefix.state, prefix.ids, ids, model_.pad_id(), out.state, starts,
                                       std::max<int64_t>(cache_slots, 0));
  out.state.row_id = rows;
  return out;
}

void Runner::run(const std::vector<EncodedPrompt>& prompts, const ForwardArgs& forward, const PrepareArgs& prep,
                 const std::function<void(const PromptBatch&, const at::Tensor&)>& after,
                 const std::function<void(const PromptBatch&)>& before) const {
  PrepareArgs p = prep;
  if (forward.hooks && forward.hooks->has_per_row_hooks()) p.share_prefix = false;
  for (const auto& rows : plan(prompts)) {
    PromptBatch batch = prepare(prompts, rows, p);
    if (before) before(batch);
    at::Tensor out = model_.forward(batch.tokens, batch.state, forward);
    if (after) after(batch, out);
  }
}

// ---------------------------------------------------------------------------------------------
// DecodeBatch

namespace {

// Lays the rows of `parts` out again as one plain left-padded batch (no shared prefix) whose
// real tokens all end at slot `length`, with capacity − length free slots after it. Row b of a
// part holds its n = length − pad[b] real tokens at slots [0, prefix) ∪ [prefix + pad[b], length)
// (BatchState's rule); their keys and values keep their positions, so rope stays valid. Padding
// slots are zero (attention masks them, and 0 · garbage could be NaN).
BatchState relayout(const std::vector<const BatchState*>& parts, int64_t extra) {
  BatchState out;
  int64_t longest = 0;
  for (const BatchState* s : parts)
    for (int64_t b = 0; b < s->batch; ++b) longest = std::max(longest, s->length - s->pad[b]);
  const BatchState& first = *parts.front();
  const size_t n_layers = first.k.size();
  out.length = longest;
  out.capacity = longest + extra;
  for (const BatchState* s : parts) {
    out.batch += s->batch;
    for (int64_t b = 0; b < s->batch; ++b) {
      out.pad.push_back(longest - (s->length - s->pad[b]));
      out.prompt_len.push_back(s->prompt_len[b]);
      out.instruction_end.push_back(s->instruction_end[b]);
      out.row_id.push_back(s->id(b));
    }
  }
  for (size_t l = 0; l < n_layers; ++l) {
    for (int kv = 0; kv < 2; ++kv) {
      const at::Tensor& like = kv ? first.v[l] : first.k[l];  // [B, Hkv, capacity, hd]
      at::Tensor cache = at::zeros({out.batch, like.size(1), out.capacity, like.size(3)}, like.options());
      int64_t r = 0;
      for (const BatchState* s : parts) {
        const at::Tensor& src = kv ? s->v[l] : s->k[l];
        for (int64_t b = 0; b < s->batch; ++b, ++r) {
          const int64_t n = s->length - s->pad[b], P = s->prefix;
          at::Tensor dst = cache[r].narrow(1, longest - n, n);  // [Hkv, n, hd]
          if (P > 0) dst.narrow(1, 0, P).copy_(src[b].narrow(1, 0, P));
          dst.narrow(1, P, n - P).copy_(src[b].narrow(1, P + s->pad[b], n - P));
        }
      }
      (kv ? out.v : out.k).push_back(cache);
    }
  }
  return out;
}

}  // namespace

DecodeBatch::DecodeBatch(const Runner& runner, const HookSet* hooks) : runner_(runner), hooks_(hooks) {}

at::Tensor DecodeBatch::join(const std::vector<EncodedPrompt>& prompts, const std::vector<int64_t>& ids,
                             int64_t reserve) {
  if (prompts.size() != ids.size())
    fail("decode batch: " + std::to_string(prompts.size()) + " prompts but " + std::to_string(ids.size()) + " ids");
  if (prompts.empty()) fail("decode batch: nothing to join");
  std::set<int64_t> seen(state_.row_id.begin(), state_.row_id.end());
  for (int64_t id : ids)
    if (!seen.insert(id).second) fail("decode batch: row id " + std::to_string(id) + " is already in the batch");

  std::vector<int64_t> rows(prompts.size());
  std::iota(rows.begin(), rows.end(), 0);
  PrepareArgs prep;
  prep.cache_slots = empty() ? std::max<int64_t>(reserve, 0) : 0;
  prep.prefix_hooks = hooks_;
  PromptBatch batch = runner_.prepare(prompts, rows, prep);
  batch.state.row_id = ids;
  ForwardArgs fa;
  fa.hooks = hooks_;
  fa.logits = LogitsMode::kLast;
  at::Tensor logits = runner_.model().forward(batch.tokens, batch.state, fa);  // [n, vocab]
  if (empty()) {
    state_ = std::move(batch.state);
  } else {
    int64_t extra = std::max<int64_t>(reserve, state_.capacity - state_.length);
    state_ = relayout({&state_, &batch.state}, extra);
  }
  return logits;
}

void DecodeBatch::ensure_capacity(int64_t slots) {
  if (state_.length + slots <= state_.capacity) return;
  const int64_t capacity = state_.length + std::max<int64_t>(slots, std::max<int64_t>(16, state_.length / 2));
  for (auto* caches : {&state_.k, &state_.v})
    for (at::Tensor& c : *caches) {
      at::Tensor grown = at::zeros({c.size(0), c.size(1), capacity, c.size(3)}, c.options());
      grown.narrow(2, 0, state_.length).copy_(c.narrow(2, 0, state_.length));
      c = grown;
    }
  state_.capacity = capacity;
}

at::Tensor DecodeBatch::step(const std::vector<int32_t>& tokens) {
  if (empty()) fail("decode batch: no rows to step");
  if (int64_t(tokens.size()) != state_.batch)
    fail("decode batch: " + std::to_string(tokens.size()) + " tokens for " + std::to_string(state_.batch) + " rows");
  ensure_capacity(1);
  at::Tensor t = at::empty({state_.batch, 1}, at::kLong);
  auto acc = t.accessor<int64_t, 2>();
  for (int64_t b = 0; b < state_.batch; ++b) acc[b][0] = tokens[b];
  ForwardArgs fa;
  fa.hooks = hooks_;
  fa.logits = LogitsMode::kLast;
  return runner_.model().forward(t, state_, fa);
}

void DecodeBatch::leave(const std::vector<int64_t>& ids) {
  if (ids.empty()) return;
  std::set<int64_t> gone(ids.begin(), ids.end());
  for (int64_t id : gone)
    if (std::find(state_.row_id.begin(), state_.row_id.end(), id) == state_.row_id.end())
      fail("decode batch: row id " + std::to_string(id) + " is not in the batch");
  std::vector<int64_t> keep;
  for (int64_t b = 0; b < state_.batch; ++b)
    if (!gone.count(state_.row_id[b])) keep.push_back(b);
  if (keep.empty()) {
    state_ = BatchState{};
    return;
  }
  BatchState next;
  next.batch = int64_t(keep.size());
  next.prefix = state_.prefix;
  next.length = state_.length;
  next.capacity = state_.capacity;
  for (int64_t b : keep) {
    next.pad.push_back(state_.pad[b]);
    next.prompt_len.push_back(state_.prompt_len[b]);
    next.instruction_end.push_back(state_.instruction_end[b]);
    next.row_id.push_back(state_.row_id[b]);
  }
  at::Tensor index = at::tensor(keep, at::kLong).to(runner_.model().device());
  for (const at::Tensor& c : state_.k) next.k.push_back(c.index_select(0, index));
  for (const at::Tensor& c : state_.v) next.v.push_back(c.index_select(0, index));
  // Padding every remaining row has in front (no shared prefix): drop those slots.
  if (next.prefix == 0) {
    const int64_t drop = *std::min_element(next.pad.begin(), next.pad.end());
    if (drop > 0) {
      for (int64_t& p : next.pad) p -= drop;
      next.length -= drop;
      next.capacity -= drop;
      for (auto* caches : {&next.k, &next.v})
        for (at::Tensor& c : *caches) c = c.narrow(2, drop, next.capacity);
    }
  }
  state_ = std::move(next);
}

}  // namespace steer
