"""Refusal-direction selection (issue 4), the transformers side, written the way the paper's code
(andyrdt/refusal_direction, pipeline/submodules/select_direction.py) scores candidates:

- the model is transformers' own, loaded from the same GGUF (tools/reference/ref_models.py);
- prompts are left-padded in batches of 32 in the order given, each pass a full forward whose
  `.logits[:, -1, :]` is read (the LM head runs over every position, as there);
- ablation of r: a forward pre-hook on every decoder layer (its input, hook_resid_pre) and forward
  hooks on every self_attn and mlp output, each doing x -= (x . r^) r^ with r^ = r / (|r| + 1e-8);
- activation addition: a forward pre-hook on the candidate's own layer adding +1 * r at every
  position;
- per candidate three passes, as the paper: harmless val ablated (KL against the baseline),
  harmful val ablated (bypass), harmless val with +r (induce);
- refusal score and KL in float64: log(s + 1e-8) - log(1 - s + 1e-8) with s the probability of the
  refusal tokens; KL = sum p (log(p + 1e-6) - log(q + 1e-6)), averaged over the prompts.

Inputs: the files bench_selection --write-inputs DIR wrote (the val prompts' token ids exactly as
steer chat-formats them, the refusal token ids, and the candidate directions in float64), so both
sides score the same candidates on the same tokens. Timing mirrors the C++ side: `seconds` is the
baseline pass plus every candidate, `baseline_seconds` the baseline pass alone, after one
untimed warm-up baseline pass.

Usage: python bench/peer_selection.py --inputs DIR [--dtype float32|bfloat16] [--threads 2]
           [--batch 32] [--compare steer.json]
Prints one JSON object; with --compare it holds the largest absolute differences from the C++
side's scores ("agreement").
"""
import argparse
import contextlib
import json
import os
import resource
import sys
import time

os.environ.setdefault("TQDM_DISABLE", "1")  # transformers' GGUF conversion bar; read when tqdm is imported
import torch  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tools", "reference"))
import ref_models  # noqa: E402


def load_directions(path):
    from safetensors.torch import load_file

    return load_file(path)["directions"].to(torch.float64)


@contextlib.contextmanager
def hooks(pre=(), post=()):
    """Registers (module, fn) forward pre-hooks and forward hooks; removes them on exit."""
    handles = [m.register_forward_pre_hook(f) for m, f in pre] + [m.register_forward_hook(f) for m, f in post]
    try:
        yield
    finally:
        for h in handles:
            h.remove()


def ablation_hooks(model, r):
    unit = r / (r.norm() + 1e-8)
    dtype = model.dtype

    def project_out(x):
        u = unit.to(dtype)
        x -= (x @ u).unsqueeze(-1) * u

    def pre_hook(module, args):
        project_out(args[0])

    def out_hook(module, args, output):
        project_out(output[0] if isinstance(output, tuple) else output)

    layers = model.model.layers
    pre = [(layer, pre_hook) for layer in layers]
    post = [(layer.self_attn, out_hook) for layer in layers] + [(layer.mlp, out_hook) for layer in layers]
    return pre, post


def actadd_hooks(model, r, layer, coeff=1.0):
    vec = (coeff * r).to(model.dtype)

    def pre_hook(module, args):
        args[0].add_(vec)

    return [(model.model.layers[layer], pre_hook)], []


def last_logits(model, rows, batch):
    out = []
    for b in range(0, len(rows), batch):
        chunk = rows[b:b + batch]
        T = max(len(r) for r in chunk)
        input_ids = torch.tensor([[0] * (T - len(r)) + r for r in chunk])
        mask = torch.tensor([[0] * (T - len(r)) + [1] * len(r) for r in chunk])
        with torch.inference_mode():
            out.append(model(input_ids=input_ids, attention_mask=mask).logits[:, -1, :])
    return torch.cat(out)


def refusal_score(logits, tokens, eps=1e-8):
    p = logits.to(torch.float64).softmax(dim=-1)
    s = p[:, tokens].sum(dim=-1)
    return torch.log(s + eps) - torch.log(1 - s + eps)


def kl_div(logits_p, logits_q, eps=1e-6):
    p = logits_p.to(torch.float64).softmax(dim=-1)
    q = logits_q.to(torch.float64).softmax(dim=-1)
    return (p * (torch.log(p + eps) - torch.log(q + eps))).sum(dim=-1)


def compare(mine, path):
    theirs = json.load(open(path))
    by_key = {(c["position"], c["layer"]): c for c in theirs["candidates"]}
    diff = {"bypass": 0.0, "induce": 0.0, "kl": 0.0}
    rel_kl = 0.0
    missing = 0  # candidates the other side did not score (absent, or null scores)
    for c in mine:
        o = by_key.get((c["position"], c["layer"]))
        if o is None or any(o[k] is None or c[k] is None for k in diff):
            missing += 1
            continue
        for k in diff:
            diff[k] = max(diff[k], abs(c[k] - o[k]))
        if o["kl"]:
            rel_kl = max(rel_kl, abs(c["kl"] - o["kl"]) / abs(o["kl"]))
    return theirs, {"max_abs_diff": diff, "max_rel_diff_kl": rel_kl, "missing": missing}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--inputs", required=True, help="the folder bench_selection --write-inputs wrote")
    ap.add_argument("--dtype", default="float32", choices=["float32", "bfloat16"])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--compare", help="the C++ side's JSON output")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    inp = json.load(open(os.path.join(args.inputs, "inputs.json")))
    harmful, harmless = inp["harmful_val_ids"], inp["harmless_val_ids"]
    tokens = inp["refusal_tokens"]
    cands = inp["candidates"]
    dirs = load_directions(os.path.join(args.inputs, inp["directions_file"]))
    assert dirs.shape[0] == len(cands)
    dtype = {"float32": torch.float32, "bfloat16": torch.bfloat16}[args.dtype]
    model = ref_models.load_model(inp["model"], dtype=dtype, attn_implementation="sdpa")

    def baseline():
        base_harmful = last_logits(model, harmful, args.batch)
        base_harmless = last_logits(model, harmless, args.batch)
        return base_harmful, base_harmless

    baseline()  # warm-up
    t0 = time.perf_counter()
    baseline()
    baseline_s = time.perf_counter() - t0

    t0 = time.perf_counter()
    base_harmful, base_harmless = baseline()
    scores = []
    for c, r in zip(cands, dirs):
        with hooks(*ablation_hooks(model, r)):
            kl = kl_div(base_harmless, last_logits(model, harmless, args.batch)).mean().item()
            bypass = refusal_score(last_logits(model, harmful, args.batch), tokens).mean().item()
        with hooks(*actadd_hooks(model, r, c["layer"])):
            induce = refusal_score(last_logits(model, harmless, args.batch), tokens).mean().item()
        scores.append({"position": c["position"], "layer": c["layer"], "bypass": bypass, "induce": induce, "kl": kl})
    secs = time.perf_counter() - t0

    n = len(scores)
    out = {"engine": "transformers", "model": inp["model"], "dtype": args.dtype, "threads": args.threads,
           "batch": args.batch, "n_harmful_val": len(harmful), "n_harmless_val": len(harmless),
           "candidates_scored": n, "seconds": secs, "baseline_seconds": baseline_s,
           "seconds_per_candidate": secs / n, "marginal_seconds_per_candidate": (secs - baseline_s) / n,
           "baseline_harmful": refusal_score(base_harmful, tokens).mean().item(),
           "baseline_harmless": refusal_score(base_harmless, tokens).mean().item(),
           "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
           "candidates": scores}
    if args.compare:
        theirs, agree = compare(scores, args.compare)
        agree["max_abs_diff"]["baseline_harmful"] = abs(out["baseline_harmful"] - theirs["baseline_harmful"])
        agree["max_abs_diff"]["baseline_harmless"] = abs(out["baseline_harmless"] - theirs["baseline_harmless"])
        out["agreement"] = agree
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
