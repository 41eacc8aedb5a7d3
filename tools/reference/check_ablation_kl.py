"""How much does runtime directional ablation of a *random* direction move each model? (transformers)

Question: runtime ablation (x <- x - (x.r)r at hook_resid_pre, hook_attn_out and hook_mlp_out of
every layer, all positions; Arditi et al.'s three hooks) of a random unit direction moves
gemma3-270m's next-token distribution by KL ~ 12 nats, SmolLM2/Qwen2.5 barely. Is that the model
(massive activations in a few residual dimensions) or a bug in steer's Gemma 3 forward?

This script does the same ablation in Hugging Face transformers with forward hooks, independent of
steer:
  - resid_pre: forward pre-hook on every decoder layer (its input hidden_states);
  - attn_out / mlp_out: forward hook on what is added to the residual stream: for gemma3 the
    outputs of post_attention_layernorm and post_feedforward_layernorm; for llama/qwen2 the outputs
    of self_attn (first tuple element) and mlp.

It prints, per model:
  1. per-layer statistics of hook_resid_pre over all prompt tokens (max |x_i|, median |x_i|, the
     largest dims, and the max with the first (BOS / first) position excluded);
  2. mean last-position KL(baseline || ablated) in float64 over the prompts, for
     interventions  all3 (resid_pre + attn_out + mlp_out, every layer), resid_pre (every layer
     only), all3_skip0 (all3, but position 0 left alone)
     x directions  random (seed 0, torch.randn float64, normalized), random_no_outliers (the same
     with the 8 largest-magnitude residual dims zeroed, renormalized), maxdim (unit vector along
     the largest-magnitude residual dim).
  3. with --steer PATH (the built steer binary): greedy tokens of steer `generate --dtype f32
     --json` vs transformers' greedy loop (KV cache) for baseline and all3/random ablation, per
     prompt: the number of leading tokens that agree and the smallest top-1/top-2 logit gap seen by
     transformers up to the first disagreement (a disagreement right after a near tie is not a bug);
     and steer's own KL from `steer eval-refusal` (harmless side = the chat prompts here) next to
     transformers' KL on the same chat prompts.

Usage:
  /root/.cache/steer/venv-ref/bin/python tools/reference/check_ablation_kl.py [KEY ...]
      [--steer build/steer] [--max-new 16]
  KEY: gemma3-270m smollm2-135m qwen2.5-coder-0.5b (default: all three).
Needs accelerate in the venv (transformers refuses GGUF loading without it).

Runtime on 2 shared cores: ~1.5 min to load each model from GGUF (qwen ~2.5 min), ~1 min of forwards
per model; --steer adds ~1-2 min per model.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ref_models  # noqa: E402

RAW_PROMPTS = [
    "The capital of France is",
    "def fibonacci(n):\n    ",
    "Once upon a time, there was a little",
]
CHAT_PROMPTS = [
    "Name three colours.",
    "What is 17 times 23?",
    "Write a haiku about the sea.",
]
N_OUTLIER_DIMS = 8


def encode(key, tok, kind, text):
    if kind == "raw":
        rendered = text
        ids = tok(text, add_special_tokens=True).input_ids
    elif key == "gemma3-270m":  # the GGUF has no chat template; Gemma's own format (see README)
        rendered = f"<bos><start_of_turn>user\n{text}<end_of_turn>\n<start_of_turn>model\n"
        ids = tok(rendered, add_special_tokens=False).input_ids
    else:
        rendered = tok.apply_chat_template([{"role": "user", "content": text}], tokenize=False,
                                           add_generation_prompt=True)
        ids = tok(rendered, add_special_tokens=False).input_ids
    return rendered, torch.tensor([ids])


class Ablation:
    """Hooks that remove the component along unit vector r (float32) at the chosen sites."""

    def __init__(self, model, r, sites=("resid_pre", "attn_out", "mlp_out"), skip_first=False):
        self.r = r.to(torch.float64)
        self.skip_first = skip_first
        self.handles = []
        layers = model.model.layers
        gemma = hasattr(layers[0], "post_feedforward_layernorm")
        for layer in layers:
            if "resid_pre" in sites:
                self.handles.append(layer.register_forward_pre_hook(self._pre, with_kwargs=True))
            if "attn_out" in sites:
                mod = layer.post_attention_layernorm if gemma else layer.self_attn
                self.handles.append(mod.register_forward_hook(self._post))
            if "mlp_out" in sites:
                mod = layer.post_feedforward_layernorm if gemma else layer.mlp
                self.handles.append(mod.register_forward_hook(self._post))

    def ablate(self, x):
        r = self.r.to(x.dtype)  # float32 for the fp32 model, as steer does
        proj = (x @ r).unsqueeze(-1) * r
        if self.skip_first and x.shape[1] > 1:
            proj[:, 0] = 0  # only used on whole-prompt forwards (position 0 is index 0)
        return x - proj

    def _pre(self, module, args, kwargs):
        if args:
            return (self.ablate(args[0]),) + tuple(args[1:]), kwargs
        kwargs = dict(kwargs)
        kwargs["hidden_states"] = self.ablate(kwargs["hidden_states"])
        return args, kwargs

    def _post(self, module, args, out):
        if isinstance(out, tuple):
            return (self.ablate(out[0]),) + tuple(out[1:])
        return self.ablate(out)

    def remove(self):
        for h in self.handles:
            h.remove()


@torch.no_grad()
def last_logprobs(model, ids):
    return torch.log_softmax(model(ids).logits[0, -1].to(torch.float64), -1)


def kl(p_log, q_log):
    return float((p_log.exp() * (p_log - q_log)).sum())


def kl_eps(p_log, q_log, eps=1e-6):
    """The KL steer's refusal pipeline reports (as Arditi et al.'s code): log(p + eps) - log(q + eps).
    It caps each token's log-ratio at about -log(eps) = 13.8, so it saturates near 14 nats."""
    p, q = p_log.exp(), q_log.exp()
    return float((p * ((p + eps).log() - (q + eps).log())).sum())


@torch.no_grad()
def greedy(model, ids, n):
    out = model(ids, use_cache=True)
    cache, toks, gaps = out.past_key_values, [], []
    logits = out.logits[0, -1]
    for _ in range(n):
        top = logits.topk(2)
        gaps.append(float(top.values[0] - top.values[1]))
        nxt = int(top.indices[0])
        toks.append(nxt)
        out = model(torch.tensor([[nxt]]), past_key_values=cache, use_cache=True)
        cache, logits = out.past_key_values, out.logits[0, -1]
    return toks, gaps


def resid_stats(model, prompts):
    """hook_resid_pre of every layer over every prompt token: [tokens, d] float64 per layer."""
    per_layer = None
    for _, _, ids in prompts:
        with torch.no_grad():
            hs = model(ids, output_hidden_states=True).hidden_states[:-1]  # resid_pre 0..L-1
        a = [h[0].to(torch.float64) for h in hs]
        if per_layer is None:
            per_layer = [[x] for x in a]
        else:
            for l, x in enumerate(a):
                per_layer[l].append(x)
    return [torch.cat(xs, 0) for xs in per_layer]  # [tokens, d] per layer


def steer_greedy(steer, key, kind, text, n, ablate_file):
    cmd = [steer, "--dtype", "f32", "-q", "generate", ref_models.gguf_path(key), "-p", text,
           "-n", str(n), "--json"]
    if kind == "raw":
        cmd.append("--raw")
    if ablate_file:
        cmd += ["--ablate", ablate_file]
    res = subprocess.run(cmd, capture_output=True, text=True, check=True)
    j = json.loads(res.stdout[res.stdout.index("{"):])["results"][0]
    return j["prompt_ids"], j["ids"]


def steer_kl(steer, key, ablate_file, tmp):
    pf = os.path.join(tmp, "chat_prompts.txt")
    with open(pf, "w") as f:
        f.write("\n".join(CHAT_PROMPTS) + "\n")
    outdir = os.path.join(tmp, "eval_" + key)
    os.makedirs(outdir, exist_ok=True)
    cmd = [steer, "--dtype", "f32", "-q", "eval-refusal", ref_models.gguf_path(key), "-d", ablate_file,
           "--harmful", pf, "--harmless", pf, "--format", "text", "--n", str(len(CHAT_PROMPTS)),
           "-n", "1", "-o", outdir]
    subprocess.run(cmd, capture_output=True, text=True, check=True)
    with open(os.path.join(outdir, "summary.json")) as f:
        s = json.load(f)
    return s


def write_direction(r, path):
    from safetensors.torch import save_file

    save_file({"blocks.0.hook_resid_pre": r.to(torch.float32).contiguous()}, path,
              metadata={"format": "steer.directions", "kind": "ablation", "site": "hook_resid_pre",
                        "d_model": str(r.numel())})


def run_model(key, args, tmp):
    torch.manual_seed(0)
    model, tok = ref_models.load(key)
    d = model.config.hidden_size
    prompts = [("raw", t, encode(key, tok, "raw", t)[1]) for t in RAW_PROMPTS]
    prompts += [("chat", t, encode(key, tok, "chat", t)[1]) for t in CHAT_PROMPTS]
    print(f"\n=== {key} ({type(model).__name__}, {len(model.model.layers)} layers, d_model {d}) ===")

    stats = resid_stats(model, prompts)
    print("hook_resid_pre |x_i| over all prompt tokens: layer, max, median, max/median, top dims (max |x|),"
          " max excluding position 0 of each prompt")
    first_rows = torch.tensor([0] + [int(p[2].shape[1]) for p in prompts]).cumsum(0)[:-1]
    keep = torch.ones(stats[0].shape[0], dtype=torch.bool)
    keep[first_rows] = False
    overall = torch.zeros(d, dtype=torch.float64)
    for l, a in enumerate(x.abs() for x in stats):
        colmax = a.max(0).values
        overall = torch.maximum(overall, colmax)
        top = colmax.topk(4)
        med = float(a.median())
        dims = ", ".join(f"{i}:{v:.0f}" for i, v in zip(top.indices.tolist(), top.values.tolist()))
        print(f"  L{l:2d} max {float(a.max()):9.1f}  median {med:7.3f}  ratio {float(a.max()) / med:8.0f}"
              f"  [{dims}]  max(pos>0) {float(a[keep].max()):8.1f}")
    outliers = overall.topk(N_OUTLIER_DIMS).indices
    print(f"  largest dims over all layers: {outliers.tolist()}")

    g = torch.Generator().manual_seed(0)
    r_rand = torch.randn(d, generator=g, dtype=torch.float64)
    r_rand /= r_rand.norm()
    r_noout = r_rand.clone()
    r_noout[outliers] = 0
    r_noout /= r_noout.norm()
    r_max = torch.zeros(d, dtype=torch.float64)
    r_max[outliers[0]] = 1
    print(f"  random r: |r[{int(outliers[0])}]| = {abs(float(r_rand[outliers[0]])):.4f}"
          f" (1/sqrt(d) = {d ** -0.5:.4f})")
    # What removing (x.r)r does to the rest of the vector: |(x.r) r_rest| / |x_rest|, rest = all dims
    # but the N_OUTLIER_DIMS largest; median over tokens, at position 0 and at the other positions.
    rest = torch.ones(d, dtype=torch.bool)
    rest[outliers] = False
    line = []
    for l, x in enumerate(stats):
        rel = (x @ r_rand).abs() * r_rand[rest].norm() / x[:, rest].norm(dim=1)
        line.append(f"L{l}:{float(rel[first_rows].median()):.2f}/{float(rel[keep].median()):.2f}")
    print("  random-r ablation at resid_pre, |(x.r) r_rest| / |x_rest| (median, position 0 / other"
          " positions): " + " ".join(line))
    directions = {"random": r_rand, "random_no_outliers": r_noout, f"maxdim({int(outliers[0])})": r_max}
    interventions = {
        "all3": dict(sites=("resid_pre", "attn_out", "mlp_out")),
        "resid_pre": dict(sites=("resid_pre",)),
        "all3_skip0": dict(sites=("resid_pre", "attn_out", "mlp_out"), skip_first=True),
    }

    base = [last_logprobs(model, ids) for _, _, ids in prompts]
    results = {}
    print("mean last-position KL(baseline || ablated), nats, float64  [raw / chat / all], and steer's"
          " eps-KL (log(p+1e-6) - log(q+1e-6)) [chat / all]")
    for iname, ikw in interventions.items():
        for dname, r in directions.items():
            ab = Ablation(model, r, **ikw)
            try:
                abl = [last_logprobs(model, ids) for _, _, ids in prompts]
            finally:
                ab.remove()
            kls = [kl(b, a) for b, a in zip(base, abl)]
            keps = [kl_eps(b, a) for b, a in zip(base, abl)]
            raw = sum(kls[:len(RAW_PROMPTS)]) / len(RAW_PROMPTS)
            chat = sum(kls[len(RAW_PROMPTS):]) / len(CHAT_PROMPTS)
            chat_eps = sum(keps[len(RAW_PROMPTS):]) / len(CHAT_PROMPTS)
            results[(iname, dname)] = (raw, chat, sum(kls) / len(kls), chat_eps, sum(keps) / len(keps))
            print(f"  {iname:11s} {dname:22s} {raw:9.4f} {chat:9.4f} {sum(kls) / len(kls):9.4f}"
                  f"   eps-KL chat {chat_eps:8.4f} all {sum(keps) / len(keps):8.4f}")

    if args.float64:
        model.to(torch.float64)
        base64 = [last_logprobs(model, ids) for _, _, ids in prompts]
        ab = Ablation(model, r_rand)
        try:
            kls = [kl(b, last_logprobs(model, ids)) for b, (_, _, ids) in zip(base64, prompts)]
        finally:
            ab.remove()
        drift = max(kl(b, b64) for b, b64 in zip(base, base64))
        print(f"  float64 model: all3/random mean KL {sum(kls) / len(kls):.4f}"
              f" (fp32: {results[('all3', 'random')][2]:.4f}); max KL(fp32 base || fp64 base) {drift:.2e}")
        model.to(torch.float32)

    if args.steer:
        rfile = os.path.join(tmp, f"{key}_random.safetensors")
        write_direction(r_rand, rfile)
        print(f"steer vs transformers, greedy {args.max_new} tokens (f32): agree = leading tokens equal;"
              " min_gap = smallest top1-top2 logit gap (transformers) up to the first disagreement")
        for cond in ("baseline", "ablate_random_all3"):
            for kind, text, ids in prompts:
                ab = Ablation(model, r_rand) if cond != "baseline" else None
                try:
                    hf, gaps = greedy(model, ids, args.max_new)
                finally:
                    if ab:
                        ab.remove()
                s_prompt, s_ids = steer_greedy(args.steer, key, kind, text, args.max_new,
                                               rfile if ab else None)
                same_prompt = s_prompt == ids[0].tolist()
                n = 0
                while n < len(hf) and n < len(s_ids) and hf[n] == s_ids[n]:
                    n += 1
                min_gap = min(gaps[:min(n + 1, len(gaps))])
                print(f"  {cond:19s} {kind:4s} {text[:28]!r:32s} prompt_ids_equal={same_prompt}"
                      f" agree {n:2d}/{len(hf)} min_gap {min_gap:.3f}  hf:{tok.decode(hf[:8])!r}"
                      f" steer:{tok.decode(s_ids[:8])!r}")
        s = steer_kl(args.steer, key, rfile, tmp)
        res = results[("all3", "random")]
        print(f"  KL on the chat prompts, all3/random: steer eval-refusal (eps-KL, batched) {s.get('kl')}"
              f"  transformers eps-KL {res[3]:.4f} (exact KL {res[1]:.4f})")
    del model
    return results


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("keys", nargs="*", default=["gemma3-270m", "smollm2-135m", "qwen2.5-coder-0.5b"])
    ap.add_argument("--steer", help="steer binary: also compare greedy tokens and KL with steer")
    ap.add_argument("--max-new", type=int, default=16)
    ap.add_argument("--float64", action="store_true",
                    help="also run all3/random with the model in float64 (rules out fp32 rounding)")
    args = ap.parse_args()
    torch.set_num_threads(min(2, os.cpu_count() or 1))
    all_results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for key in args.keys:
            all_results[key] = run_model(key, args, tmp)
    print("\nsummary: mean last-position KL (all prompts), nats")
    for key, res in all_results.items():
        for (iname, dname), v in res.items():
            print(f"  {key:20s} {iname:11s} {dname:22s} KL {v[2]:9.4f}  eps-KL {v[4]:8.4f}")


if __name__ == "__main__":
    main()
