// Multiple-choice scoring under steering (contract in include/steer/ab_eval.h).
#include "steer/ab_eval.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <optional>

#include "steer/error.h"
#include "steer/hooks.h"
#include "steer/model.h"
#include "steer/progress.h"
#include "steer/tokenizer.h"

namespace steer {
namespace {

std::string letter_text(char c) { return std::string(1, c); }

}  // namespace

ChoiceQuestion encode_choice_question(const Model& model, const std::string& question, const std::vector<char>& letters,
                                      const std::vector<ChatMessage>& history) {
  if (letters.size() < 2) fail("a choice question needs at least two letters");
  std::vector<ChatMessage> messages = history;
  messages.push_back({"user", question});
  const RenderedChat chat = model.chat_template().render(messages, /*add_generation_prompt=*/true);
  auto encode = [&](const std::string& answer_start, int* post_len) {
    RenderedChat c = chat;
    c.post_instruction += answer_start;  // the model's answer starts with it
    return encode_chat(model.tokenizer(), c, post_len);
  };
  auto extends = [](const std::vector<int32_t>& longer, const std::vector<int32_t>& shorter) {
    return longer.size() == shorter.size() + 1 && std::equal(shorter.begin(), shorter.end(), longer.begin());
  };
  int post_open = 0, post_bare = 0, unused = 0;
  const std::vector<int32_t> open = encode("(", &post_open), bare = encode("", &post_bare);
  ChoiceQuestion q;
  q.letters = letters;
  int mode = 0;  // 1: "(" then the letter; 2: "(X" merged
  for (char c : letters) {
    const std::vector<int32_t> with = encode(std::string("(") + c, &unused);
    const int m = extends(with, open) ? 1 : extends(with, bare) ? 2 : 0;
    if (m == 0 || (mode != 0 && m != mode))
      fail("choice letter '" + letter_text(c) + "': the tokenizer neither keeps \"(\" and the letter apart nor merges "
           "them into one token the same way for every letter",
           "A/B scoring reads one token per letter");
    mode = m;
    q.letter_ids.push_back(with.back());
  }
  q.paren_in_prompt = mode == 1;
  q.prompt.ids = mode == 1 ? open : bare;
  q.prompt.instruction_end = int64_t(q.prompt.ids.size()) - (mode == 1 ? post_open : post_bare);
  return q;
}

int64_t answer_letter_offset(const Model& model, const EncodedPrompt& prompt, char letter) {
  const int64_t n = int64_t(prompt.ids.size());
  const int64_t tail = n - prompt.instruction_end;
  // Walk back from the end: the first token (from the end) whose suffix text holds the letter.
  for (int64_t k = 1; k <= std::min<int64_t>(tail, 8); ++k) {
    std::vector<int32_t> suffix(prompt.ids.end() - k, prompt.ids.end());
    if (model.tokenizer().decode(suffix).find(letter) != std::string::npos) return -k;
  }
  fail("no token of the answer at the end of the prompt holds the letter '" + letter_text(letter) + "'",
       "CAA prompts end with an answer such as \"(A)\"");
}

double ChoiceSweep::p(size_t s, size_t q, char letter) const {
  const std::vector<char>& ls = letters.at(q);
  auto it = std::find(ls.begin(), ls.end(), letter);
  if (it == ls.end()) fail("question " + std::to_string(q) + " offers no letter '" + letter_text(letter) + "'");
  return probs.at(s).at(q).at(size_t(it - ls.begin()));
}

ChoiceSweep choice_sweep(const Model& model, const std::vector<ChoiceQuestion>& questions, const DirectionSet& vectors,
                         const std::vector<SteerSetting>& settings, const ChoiceSweepOptions& options) {
  const auto t0 = std::chrono::steady_clock::now();
  if (options.batch_size < 1) fail("A/B sweep: batch size must be ≥ 1");
  if (options.base_hooks && options.base_hooks->has_per_row_hooks())
    fail("A/B sweep: the base hooks must treat every row alike");
  const int n_layers = model.config().n_layers;
  // The vectors the settings need, on the model's device, as [d_model] float32.
  std::map<int, at::Tensor> v;
  for (const SteerSetting& s : settings) {
    if (!s.steered() || v.count(s.layer)) continue;
    if (s.layer >= n_layers)
      fail("A/B sweep: layer " + std::to_string(s.layer) + " is out of range (the model has " +
           std::to_string(n_layers) + " layers)");
    if (vectors.meta().site != SiteKind::kResidPost)
      fail("A/B sweep: the vectors are at " + site_kind_name(vectors.meta().site) +
               ", expected hook_resid_post (CAA adds to the block output)");
    at::Tensor x = vectors.at_layer(s.layer);
    if (x.numel() != model.config().d_model)
      fail("A/B sweep: the vector at layer " + std::to_string(s.layer) + " has " + std::to_string(x.numel()) +
           " values; the model's d_model is " + std::to_string(model.config().d_model));
    v[s.layer] = x.to(at::kFloat).to(model.device());
  }

  ChoiceSweep out;
  out.settings = settings;
  out.probs.assign(settings.size(), std::vector<std::vector<double>>(questions.size()));
  Runner runner(model, {options.batch_size, /*sort_by_length=*/false, /*share_prefix=*/false});
  std::optional<Progress> bar;
  if (options.progress) bar.emplace(options.label, int64_t(questions.size() * settings.size()), "evals");
  const int64_t chunk = options.batch_size;
  for (size_t qi = 0; qi < questions.size(); ++qi) {
    const ChoiceQuestion& q = questions[qi];
    out.letters.push_back(q.letters);
    const int64_t n = int64_t(q.prompt.ids.size());
    if (q.prompt.instruction_end < 1 || q.prompt.instruction_end >= n)
      fail("A/B sweep: question " + std::to_string(qi + 1) + " has no post-instruction tail to steer",
           "the model needs a chat template (see `steer inspect`)");
    const std::vector<int32_t>& letter_ids = q.letter_ids;
    if (letter_ids.size() != q.letters.size())
      fail("A/B sweep: question " + std::to_string(qi + 1) + " has no letter tokens", "make it with encode_choice_question");
    at::Tensor letter_index = at::tensor(std::vector<int64_t>(letter_ids.begin(), letter_ids.end()), at::kLong);
    // The question up to its instruction end runs once; every setting continues it.
    ForwardArgs prefix_args;
    prefix_args.hooks = options.base_hooks;
    PrefixRun prefix = runner.run_prefix(
        std::vector<int32_t>(q.prompt.ids.begin(), q.prompt.ids.begin() + q.prompt.instruction_end), n,
        q.prompt.instruction_end, prefix_args);
    for (size_t s0 = 0; s0 < settings.size(); s0 += size_t(chunk)) {
      const size_t s1 = std::min(settings.size(), s0 + size_t(chunk));
      const int64_t rows = int64_t(s1 - s0);
      std::vector<EncodedPrompt> copies(static_cast<size_t>(rows), q.prompt);
      std::vector<int64_t> row_ids(static_cast<size_t>(rows));
      for (int64_t r = 0; r < rows; ++r) row_ids[size_t(r)] = r;
      PromptBatch batch = runner.prepare_after(prefix, copies, row_ids);
      // One hook per steered layer: row r gets its setting's multiplier there, the others 0.
      HookSet hooks(n_layers);
      if (options.base_hooks) {
        // Base hooks run first at every site they use; copying them keeps one HookSet per pass.
        for (int l = -1; l < n_layers; ++l)
          for (int k = 0; k < kNumSiteKinds; ++k)
            if (const SiteKind kind = static_cast<SiteKind>(k); options.base_hooks->active(kind, l))
              hooks.add({kind, l}, [base = options.base_hooks, kind, l](at::Tensor& x, const HookContext& ctx) {
                base->run(kind, l, x, ctx);
              });
      }
      std::map<int, std::vector<float>> coef;
      for (size_t s = s0; s < s1; ++s)
        if (settings[s].steered()) {
          auto& c = coef[settings[s].layer];
          c.resize(size_t(rows), 0.f);
          c[s - s0] = float(settings[s].multiplier);
        }
      for (auto& [layer, c] : coef) {
        at::Tensor per_row = at::tensor(c, at::kFloat);
        hooks.add(
            {SiteKind::kResidPost, layer},
            [vec = v.at(layer), per_row](at::Tensor& x, const HookContext& ctx) {
              at::Tensor ids = at::tensor(std::vector<int64_t>(ctx.state->row_id.begin(), ctx.state->row_id.end()),
                                          at::kLong);
              at::Tensor m = ctx.mask(PositionSelector::after_instruction()).to(x.scalar_type());      // [b, seq]
              at::Tensor k = per_row.index_select(0, ids).to(x.device()).to(x.scalar_type());          // [b]
              x.add_((m * k.unsqueeze(1)).unsqueeze(2) * vec.to(x.scalar_type()));
            },
            /*per_row=*/true);
      }
      ForwardArgs fa;
      fa.hooks = &hooks;
      fa.logits = LogitsMode::kLast;
      at::Tensor logits = model.forward(batch.tokens, batch.state, fa).to(at::kDouble).cpu();  // [rows, vocab]
      // Full softmax, then renormalized over the offered letters (CAA compares p(A) with p(B)).
      at::Tensor p = logits.softmax(-1).index_select(1, letter_index);                        // [rows, k]
      p = p / p.sum(1, /*keepdim=*/true);
      for (int64_t r = 0; r < rows; ++r) {
        const int64_t b = int64_t(std::find(batch.rows.begin(), batch.rows.end(), r) - batch.rows.begin());
        std::vector<double>& dst = out.probs[s0 + size_t(r)][qi];
        dst.resize(q.letters.size());
        for (size_t k = 0; k < q.letters.size(); ++k) dst[k] = p[b][int64_t(k)].item<double>();
      }
      if (bar) bar->advance(rows);
    }
  }
  if (bar) bar->finish();
  out.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return out;
}

}  // namespace steer
