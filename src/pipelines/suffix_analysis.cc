// Adversarial-suffix analysis: the last position's residual stream decomposed into heads and
// MLPs, projected on a refusal direction and the refusal tokens' unembedding (steer/suffix.h).
#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <map>
#include <numeric>
#include <optional>

#include "core/cpu.h"
#include "steer/error.h"
#include "steer/generate.h"
#include "steer/hooks.h"
#include "steer/metrics.h"
#include "steer/model.h"
#include "steer/progress.h"
#include "steer/suffix.h"
#include "steer/tokenizer.h"

namespace steer {
namespace {

// The row-major last column of a [B, T, ...] activation, as float32 (left padding puts every
// row's last prompt token there).
at::Tensor last_column(const at::Tensor& x) { return x.select(1, x.size(1) - 1).to(at::kFloat).clone(); }

BatchOptions single_batch(size_t n) {
  BatchOptions b;
  b.batch_size = int(std::max<size_t>(1, n));
  b.sort_by_length = false;
  b.share_prefix = false;  // hooks read whole rows; a shared prefix would hide its tokens
  return b;
}

// Tokens the chat template puts before any user text: the common prefix of two one-letter chats.
int64_t template_head_length(const Model& model, const std::string& system) {
  const EncodedPrompt a = encode_chat_prompt(model, "a", system), b = encode_chat_prompt(model, "b", system);
  int64_t n = 0;
  while (n < int64_t(a.ids.size()) && n < int64_t(b.ids.size()) && a.ids[n] == b.ids[n]) ++n;
  return n;
}

PromptSpans spans_of(const EncodedPrompt& plain, const EncodedPrompt& suffixed, int64_t head) {
  PromptSpans s;
  s.size = int64_t(suffixed.ids.size());
  s.instruction_begin = std::min(head, suffixed.instruction_end);
  // The instruction's tokens are those the plain prompt shares with the suffixed one (the last
  // one or two may merge with the suffix's first characters; they count as suffix then).
  int64_t common = 0;
  while (common < plain.instruction_end && common < suffixed.instruction_end && plain.ids[common] == suffixed.ids[common])
    ++common;
  s.suffix_begin = std::max(s.instruction_begin, common);
  s.suffix_end = suffixed.instruction_end;
  return s;
}

PromptSpans plain_spans(const EncodedPrompt& plain, int64_t head) {
  PromptSpans s;
  s.size = int64_t(plain.ids.size());
  s.instruction_begin = std::min(head, plain.instruction_end);
  s.suffix_begin = s.suffix_end = plain.instruction_end;
  return s;
}

// The share of attention row `probs` (over the row's own tokens) on each span.
std::vector<double> span_mass(const float* probs, const PromptSpans& s) {
  std::vector<double> m(4, 0.0);
  for (int64_t p = 0; p < s.size; ++p) {
    const int span = p < s.instruction_begin ? 0 : p < s.suffix_begin ? 1 : p < s.suffix_end ? 2 : 3;
    m[span] += probs[p];
  }
  return m;
}

// Per-prompt projections of every component, one condition (plain, or one suffix).
struct Projections {
  at::Tensor heads, head_dla;     // [N, L, H] double
  at::Tensor mlp, mlp_dla, attn;  // [N, L]
  at::Tensor embed, resid;        // [N]
  at::Tensor refusal;             // [N] first-token refusal score
};

Projections project_all(const Model& model, const std::vector<EncodedPrompt>& prompts, const at::Tensor& r_hat,
                        const at::Tensor& unembed, const std::vector<int32_t>& refusal_tokens, int batch_size,
                        Progress* bar) {
  const ModelConfig& c = model.config();
  const int64_t N = int64_t(prompts.size()), L = c.n_layers, H = c.n_heads;
  const auto d = at::TensorOptions().dtype(at::kDouble);
  Projections p{at::zeros({N, L, H}, d), at::zeros({N, L, H}, d), at::zeros({N, L}, d), at::zeros({N, L}, d),
                at::zeros({N, L}, d),    at::zeros({N}, d),       at::zeros({N}, d),    at::zeros({N}, d)};
  for (int64_t lo = 0; lo < N; lo += batch_size) {
    const int64_t hi = std::min(N, lo + batch_size);
    std::vector<EncodedPrompt> batch(prompts.begin() + lo, prompts.begin() + hi);
    LastPositionComponents comp = last_position_components(model, batch);
    const at::Tensor rms = comp.resid_final.square().mean(-1).add(c.norm_eps).sqrt();  // [B]
    const at::Tensor dla_scale = rms.reciprocal();
    p.heads.slice(0, lo, hi).copy_(at::matmul(comp.heads, r_hat));
    p.head_dla.slice(0, lo, hi).copy_(at::matmul(comp.heads, unembed) * dla_scale.view({-1, 1, 1}));
    p.mlp.slice(0, lo, hi).copy_(at::matmul(comp.mlp_out, r_hat));
    p.mlp_dla.slice(0, lo, hi).copy_(at::matmul(comp.mlp_out, unembed) * dla_scale.view({-1, 1}));
    p.attn.slice(0, lo, hi).copy_(at::matmul(comp.attn_out, r_hat));
    p.embed.slice(0, lo, hi).copy_(at::matmul(comp.embed, r_hat));
    p.resid.slice(0, lo, hi).copy_(at::matmul(comp.resid_final, r_hat));
    p.refusal.slice(0, lo, hi).copy_(refusal_score(comp.logits, refusal_tokens));
    if (bar) bar->advance(hi - lo);
  }
  return p;
}

std::vector<double> to_vector(const at::Tensor& t) {
  at::Tensor c = t.to(at::kDouble).contiguous();
  return std::vector<double>(c.data_ptr<double>(), c.data_ptr<double>() + c.numel());
}

std::vector<std::vector<double>> to_matrix(const at::Tensor& t) {  // [R, C]
  std::vector<std::vector<double>> m;
  for (int64_t r = 0; r < t.size(0); ++r) m.push_back(to_vector(t[r]));
  return m;
}

}  // namespace

LastPositionComponents last_position_components(const Model& model, const std::vector<EncodedPrompt>& prompts) {
  if (prompts.empty()) fail("suffix: no prompts to decompose");
  const ModelConfig& c = model.config();
  const int L = c.n_layers;
  const int64_t H = c.n_heads, hd = c.head_dim, D = c.d_model;
  const int64_t N = int64_t(prompts.size());
  const auto f = at::TensorOptions().dtype(at::kFloat);
  LastPositionComponents out{at::zeros({N, D}, f),    at::zeros({N, L, H, D}, f), at::zeros({N, L, D}, f),
                             at::zeros({N, L, D}, f), at::zeros({N, L, D}, f),    at::zeros({N, D}, f),
                             at::Tensor()};

  // What the hooks saw in the current batch, by layer.
  std::vector<at::Tensor> z(L), attn(L), mlp(L);
  at::Tensor embed, resid;
  HookSet hooks(L);
  hooks.add({SiteKind::kEmbed, -1}, [&](at::Tensor& x, const HookContext&) { embed = last_column(x); });
  for (int l = 0; l < L; ++l) {
    hooks.add({SiteKind::kAttnZ, l}, [&, l](at::Tensor& x, const HookContext&) { z[l] = last_column(x); });
    hooks.add({SiteKind::kAttnOut, l}, [&, l](at::Tensor& x, const HookContext&) { attn[l] = last_column(x); });
    hooks.add({SiteKind::kMlpOut, l}, [&, l](at::Tensor& x, const HookContext&) { mlp[l] = last_column(x); });
  }
  hooks.add({SiteKind::kResidPost, L - 1}, [&](at::Tensor& x, const HookContext&) { resid = last_column(x); });

  Runner runner(model, single_batch(prompts.size()));
  PrepareArgs prep;
  prep.share_prefix = false;
  std::vector<at::Tensor> logits_rows(static_cast<size_t>(N));
  runner.run(prompts, {&hooks, LogitsMode::kLast}, prep, [&](const PromptBatch& b, const at::Tensor& logits) {
    const at::Tensor rows = at::tensor(b.rows, at::TensorOptions().dtype(at::kLong));
    out.embed.index_copy_(0, rows, embed);
    out.resid_final.index_copy_(0, rows, resid);
    at::Tensor lg = logits.to(at::kFloat).cpu();
    for (size_t i = 0; i < b.rows.size(); ++i) logits_rows[size_t(b.rows[i])] = lg[int64_t(i)];
    for (int l = 0; l < L; ++l) {
      const LayerWeights& w = model.weights().layers[size_t(l)];
      const at::Tensor wo = w.wo.to(at::kFloat).cpu().view({D, H, hd});
      at::Tensor heads = at::einsum("bhk,dhk->bhd", {z[l].view({-1, H, hd}), wo});  // [B, H, D]
      at::Tensor bias = w.bo.defined() ? w.bo.to(at::kFloat).cpu().expand({heads.size(0), D}).clone()
                                       : at::zeros({heads.size(0), D}, f);
      if (c.post_norms) {
        // post_attention_layernorm, linear given the row's RMS: scale every term by w / rms.
        const at::Tensor pre = heads.sum(1) + bias;  // [B, D]
        const at::Tensor scale =
            w.post_attn_norm.to(at::kFloat).cpu() * pre.square().mean(-1, true).add(c.norm_eps).rsqrt();  // [B, D]
        heads = heads * scale.unsqueeze(1);
        bias = bias * scale;
      }
      out.heads.select(1, l).index_copy_(0, rows, heads);
      out.attn_bias.select(1, l).index_copy_(0, rows, bias);
      out.attn_out.select(1, l).index_copy_(0, rows, attn[l]);
      out.mlp_out.select(1, l).index_copy_(0, rows, mlp[l]);
    }
  });
  out.logits = at::stack(logits_rows);
  return out;
}

void check_suffix_options(const SuffixOptions& o) {
  if (o.instructions.empty()) fail("suffix: no harmful prompts", "give --harmful FILE or leave the default set");
  if (o.suffixes.empty()) fail("suffix: no suffix given", "give --suffix TEXT or --suffixes FILE");
  for (size_t i = 0; i < o.suffixes.size(); ++i)
    if (o.suffixes[i].empty()) fail("suffix: suffix " + std::to_string(i + 1) + " is empty");
  if (o.top_heads < 1) fail("suffix: --top must be at least 1");
  if (o.batch_size < 1) fail("suffix: --batch-size must be at least 1");
  if (!o.suffix_names.empty() && o.suffix_names.size() != o.suffixes.size())
    fail("suffix: " + std::to_string(o.suffix_names.size()) + " suffix names for " + std::to_string(o.suffixes.size()) +
         " suffixes");
}

SuffixRun compute_suffix_run(const Model& model, const SuffixOptions& o) {
  check_suffix_options(o);
  const auto t0 = std::chrono::steady_clock::now();
  const ModelConfig& c = model.config();
  const int L = c.n_layers, H = c.n_heads;
  if (!o.direction.defined() || o.direction.numel() != c.d_model)
    fail("suffix: the direction has " + std::to_string(o.direction.defined() ? o.direction.numel() : 0) +
             " values; the model's residual stream has " + std::to_string(c.d_model),
         "give a direction made for this model (--direction)");
  const at::Tensor r = o.direction.to(at::kFloat).cpu().flatten();
  const double norm = r.norm().item<double>();
  if (!(norm > 0) || !std::isfinite(norm)) fail("suffix: the direction is zero or not finite");
  const at::Tensor r_hat = r / norm;
  const std::vector<int32_t> refusal_tokens = refusal_tokens_for(model);
  std::vector<int64_t> tok64(refusal_tokens.begin(), refusal_tokens.end());
  const at::Tensor unembed =
      model.weights().lm_head.to(at::kFloat).cpu().index_select(0, at::tensor(tok64)).mean(0) *
      model.weights().final_norm.to(at::kFloat).cpu();  // [D]

  const size_t N = o.instructions.size(), S = o.suffixes.size();
  std::vector<EncodedPrompt> plain;
  std::vector<std::vector<EncodedPrompt>> suffixed(S);
  for (const std::string& instr : o.instructions) plain.push_back(encode_chat_prompt(model, instr, o.system));
  for (size_t s = 0; s < S; ++s)
    for (const std::string& instr : o.instructions)
      suffixed[s].push_back(encode_chat_prompt(model, instr + o.separator + o.suffixes[s], o.system));

  SuffixRun run;
  run.n_layers = L;
  run.n_heads = H;
  run.n_prompts = N;
  for (size_t s = 0; s < S; ++s)
    run.suffix_names.push_back(o.suffix_names.empty() || o.suffix_names[s].empty() ? "suffix " + std::to_string(s + 1)
                                                                                    : o.suffix_names[s]);

  std::optional<Progress> bar;
  if (o.progress) bar.emplace("suffix: decompose", int64_t(N * (S + 1)), "prompts");
  Progress* b = bar ? &*bar : nullptr;
  // Each prompt's decomposition holds layers × heads × d_model floats: bound the batch by that
  // (256 MiB of head outputs at most), whatever --batch-size says.
  const int64_t per_prompt = int64_t(L) * H * c.d_model * int64_t(sizeof(float));
  const int batch = int(std::max<int64_t>(1, std::min<int64_t>(o.batch_size, (int64_t(256) << 20) / per_prompt)));
  const Projections p0 = project_all(model, plain, r_hat, unembed, refusal_tokens, batch, b);
  std::vector<Projections> ps;
  for (size_t s = 0; s < S; ++s) ps.push_back(project_all(model, suffixed[s], r_hat, unembed, refusal_tokens, batch, b));
  if (bar) bar->finish();

  // The suffixed side of each prompt: the mean over suffixes.
  auto mean_over_suffixes = [&](at::Tensor Projections::*field) {
    at::Tensor m = ps[0].*field;
    for (size_t s = 1; s < S; ++s) m = m + ps[s].*field;
    return m / double(S);
  };
  const at::Tensor heads_s = mean_over_suffixes(&Projections::heads);
  const at::Tensor supp = p0.heads - heads_s;  // [N, L, H]
  run.head_plain = to_matrix(p0.heads.mean(0));
  run.head_suffixed = to_matrix(heads_s.mean(0));
  run.head_suppression = to_matrix(supp.mean(0));
  run.head_dla_plain = to_matrix(p0.head_dla.mean(0));
  run.head_dla_suffixed = to_matrix(mean_over_suffixes(&Projections::head_dla).mean(0));
  run.mlp_plain = to_vector(p0.mlp.mean(0));
  run.mlp_suffixed = to_vector(mean_over_suffixes(&Projections::mlp).mean(0));
  run.mlp_dla_plain = to_vector(p0.mlp_dla.mean(0));
  run.mlp_dla_suffixed = to_vector(mean_over_suffixes(&Projections::mlp_dla).mean(0));
  run.attn_plain = to_vector(p0.attn.mean(0));
  run.attn_suffixed = to_vector(mean_over_suffixes(&Projections::attn).mean(0));
  run.embed_plain = p0.embed.mean().item<double>();
  run.embed_suffixed = mean_over_suffixes(&Projections::embed).mean().item<double>();
  run.resid_plain = bootstrap_mean(to_vector(p0.resid));
  run.resid_suffixed = bootstrap_mean(to_vector(mean_over_suffixes(&Projections::resid)));
  run.refusal_plain = bootstrap_mean(to_vector(p0.refusal));
  run.refusal_rate_plain = (p0.refusal > 0).to(at::kDouble).mean().item<double>();
  for (size_t s = 0; s < S; ++s) {
    run.refusal_suffixed.push_back(bootstrap_mean(to_vector(ps[s].refusal)));
    run.refusal_rate_suffixed.push_back((ps[s].refusal > 0).to(at::kDouble).mean().item<double>());
  }

  // Rank the heads by mean suppression.
  std::vector<std::pair<int, int>> order;
  for (int l = 0; l < L; ++l)
    for (int h = 0; h < H; ++h) order.push_back({l, h});
  std::stable_sort(order.begin(), order.end(), [&](const auto& a, const auto& b2) {
    return run.head_suppression[size_t(a.first)][size_t(a.second)] > run.head_suppression[size_t(b2.first)][size_t(b2.second)];
  });
  order.resize(std::min<size_t>(order.size(), size_t(o.top_heads)));
  for (const auto& [l, h] : order) {
    HeadScore hs;
    hs.layer = l;
    hs.head = h;
    hs.suppression = bootstrap_mean(to_vector(supp.select(1, l).select(1, h)));
    hs.plain = run.head_plain[size_t(l)][size_t(h)];
    hs.suffixed = run.head_suffixed[size_t(l)][size_t(h)];
    hs.dla_plain = run.head_dla_plain[size_t(l)][size_t(h)];
    hs.dla_suffixed = run.head_dla_suffixed[size_t(l)][size_t(h)];
    hs.attention_plain.assign(4, 0.0);
    hs.attention_suffixed.assign(4, 0.0);
    run.top_heads.push_back(hs);
  }

  // The top heads' attention from the last token, per span: a second pass with pattern hooks at
  // their layers only (the pattern hook takes attention off the fused kernel).
  const int64_t head_len = template_head_length(model, o.system);
  std::map<int, std::vector<size_t>> by_layer;  // layer → indices into run.top_heads
  for (size_t i = 0; i < run.top_heads.size(); ++i) by_layer[run.top_heads[i].layer].push_back(i);
  const EncodedPrompt& example = suffixed[0][0];
  run.example_spans = spans_of(plain[0], example, head_len);
  for (int32_t id : example.ids) run.example_tokens.push_back(model.tokenizer().decode({id}));
  run.example_attention.assign(run.top_heads.size(), std::vector<double>(example.ids.size(), 0.0));

  std::optional<Progress> attention_bar;
  if (o.progress) attention_bar.emplace("suffix: top heads' attention", int64_t(N * (S + 1)), "prompts");
  auto attention_pass = [&](const std::vector<EncodedPrompt>& prompts, const std::vector<PromptSpans>& spans,
                            bool is_plain, bool record_example) {
    for (size_t lo = 0; lo < prompts.size(); lo += size_t(batch)) {
      const size_t hi = std::min(prompts.size(), lo + size_t(batch));
      std::vector<EncodedPrompt> batch(prompts.begin() + int64_t(lo), prompts.begin() + int64_t(hi));
      HookSet hooks(L);
      std::vector<int64_t> rows;
      for (const auto& [layer, idx] : by_layer) {
        hooks.add({SiteKind::kAttnPattern, layer}, [&, idx = idx](at::Tensor& x, const HookContext&) {
          // x [B, H, T, S]: the last query's row; left padding puts row b's tokens in the last columns.
          const at::Tensor last = x.select(2, x.size(2) - 1).to(at::kFloat).contiguous();  // [B, H, S]
          const int64_t Sk = last.size(2);
          for (int64_t bi = 0; bi < last.size(0); ++bi) {
            const size_t prompt = lo + size_t(rows[size_t(bi)]);
            const PromptSpans& sp = spans[prompt];
            for (size_t k : idx) {
              const float* row = last[bi][run.top_heads[k].head].data_ptr<float>() + (Sk - sp.size);
              const std::vector<double> m = span_mass(row, sp);
              std::vector<double>& acc = is_plain ? run.top_heads[k].attention_plain : run.top_heads[k].attention_suffixed;
              for (int q = 0; q < 4; ++q) acc[size_t(q)] += m[size_t(q)];
              if (record_example && prompt == 0)
                for (int64_t t = 0; t < sp.size; ++t) run.example_attention[k][size_t(t)] = row[t];
            }
          }
        });
      }
      Runner runner(model, single_batch(batch.size()));
      PrepareArgs prep;
      prep.share_prefix = false;
      runner.run(batch, {&hooks, LogitsMode::kNone}, prep, [](const PromptBatch&, const at::Tensor&) {},
                 [&](const PromptBatch& pb) { rows = pb.rows; });
      if (attention_bar) attention_bar->advance(int64_t(hi - lo));
    }
  };
  {
    std::vector<PromptSpans> sp;
    for (const EncodedPrompt& e : plain) sp.push_back(plain_spans(e, head_len));
    attention_pass(plain, sp, true, false);
  }
  for (size_t s = 0; s < S; ++s) {
    std::vector<PromptSpans> sp;
    for (size_t i = 0; i < N; ++i) sp.push_back(spans_of(plain[i], suffixed[s][i], head_len));
    attention_pass(suffixed[s], sp, false, s == 0);
  }
  if (attention_bar) attention_bar->finish();
  for (HeadScore& hs : run.top_heads) {
    for (double& v : hs.attention_plain) v /= double(N);
    for (double& v : hs.attention_suffixed) v /= double(N * S);
  }

  nlohmann::json& meta = run.metadata;
  meta["model"] = {{"path", model.path()}, {"config", c.describe()}, {"dtype", dtype_name(model.dtype())}};
  meta["machine"] = {{"cpu", cpu_summary()}, {"threads", at::get_num_threads()}};
  meta["direction"] = {{"file", o.direction_file}, {"layer", o.direction_layer}, {"norm", norm}};
  meta["refusal_tokens"] = refusal_tokens;
  meta["separator"] = o.separator;
  meta["system"] = o.system;
  meta["suffixes"] = o.suffixes;
  meta["seconds"] = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return run;
}

}  // namespace steer
