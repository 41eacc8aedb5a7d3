"""CAA layer x multiplier sweep, the transformers side, done the way the paper's code
(Rimsky et al. 2023, nrimsky/CAA, prompting_with_steering.py) evaluates A/B questions:

- the model is transformers' own, loaded from the same GGUF (tools/reference/ref_models.py),
  float32, "sdpa" attention, CPU;
- prompt per question: the model's chat template (tokenizer.apply_chat_template) with one user
  message = the question and add_generation_prompt=True (no system message of ours; SmolLM2's and
  Qwen2.5's templates insert their default one), then "(" appended as the start of the answer;
  the whole text tokenized with add_special_tokens=False (the template has every special token);
- instruction_end = the number of tokens of the text up to and including the end of the user's
  message (checked to be a prefix of the full tokenization); the rest (the template's tail, e.g.
  "<|im_end|>\\n<|im_start|>assistant\\n", and the "(") is the post-instruction part;
- steering: a forward hook on decoder layer L (model.model.layers[L], whose output is
  blocks.{L}.hook_resid_post) adds multiplier * v[L] in float32 at every position >= instruction_end
  and nowhere else;
- score: the logits at the last position, p = softmax (float64), the letters A and B = the one token
  the tokenizer appends for the text prompt + "A" / prompt + "B" (checked: exactly one new token,
  earlier tokens unchanged; where the tokenizer instead merges "(" and the letter into one token,
  as Qwen2.5's does ("(A" = 4346), the prompt stops before "(" and the merged tokens "(A" / "(B"
  are scored, as steer does, and the output's letter_tokens_how says so); p_matching = p(matching letter) / (p(A) + p(B)), averaged over the
  questions per setting, as the paper's behaviour analysis does;
- one forward per (question, layer, multiplier), batch 1, no padding, no KV cache reuse, the full
  logits over every position as the paper's get_logits computes them (--last-logits keeps only the
  last position's). Multiplier 0 is the same forward whatever the layer, so it runs once per
  question (its result has layer null), not once per layer.

Difference from the paper, on purpose: the paper (Llama 2 chat) steers the positions after the
last token of "[/INST]"; here every position from the end of the user's text on is steered,
template tail included, which is steer's "post-instruction" positions.

`seconds` is the whole sweep (tokenization, hooks, every forward, scoring), model loading excluded,
with time.perf_counter; there is no warm-up.

Usage: python bench/peer_caa_sweep.py --model smollm2-135m --vectors V.safetensors
           --test ../shared/data/caa/datasets/test/sycophancy/test_dataset_ab.json
           [--limit 5] [--layers 0-29] [--multipliers -1,0,1] [--threads 2] [--last-logits]
           [--out FILE.json]
Writes one JSON object to --out (and prints it on stdout without the per-question rows when --out
is given, in full otherwise); progress on stderr.
"""
import argparse
import json
import os
import platform
import resource
import sys
import time

os.environ.setdefault("TQDM_DISABLE", "1")  # transformers' GGUF conversion bar; read when tqdm is imported
import torch  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tools", "reference"))
import ref_models  # noqa: E402


def parse_layers(text, n_layers):
    if text == "all":
        return list(range(n_layers))
    out = []
    for part in text.split(","):
        part = part.strip()
        if "-" in part:
            a, b = part.split("-", 1)
            out.extend(range(int(a), int(b) + 1))
        elif part:
            out.append(int(part))
    for layer in out:
        if not 0 <= layer < n_layers:
            raise SystemExit(f"layer {layer} out of range (model has {n_layers} layers)")
    return sorted(set(out))


def parse_multipliers(text):
    return [float(x) for x in text.split(",") if x.strip()]


def load_vectors(path, layers, d_model):
    from safetensors import safe_open

    vecs = {}
    with safe_open(path, "pt") as f:
        names = set(f.keys())
        for layer in layers:
            name = f"blocks.{layer}.hook_resid_post"
            if name not in names:
                raise SystemExit(f"{path} has no tensor {name}")
            v = f.get_tensor(name)
            if v.dtype != torch.float32 or tuple(v.shape) != (d_model,):
                raise SystemExit(f"{name}: expected F32 [{d_model}], got {v.dtype} {list(v.shape)}")
            vecs[layer] = v
    return vecs


def build_prompt(tok, question):
    """The prompt's token ids and instruction_end, as the module docstring says."""
    text = tok.apply_chat_template([{"role": "user", "content": question}], tokenize=False,
                                   add_generation_prompt=True)
    at = text.rfind(question)
    if at < 0:
        raise SystemExit("the chat template changed the question's text; cannot find where it ends")
    end = at + len(question)
    text += "("
    ids = tok(text, add_special_tokens=False).input_ids
    head = tok(text[:end], add_special_tokens=False).input_ids
    if ids[:len(head)] != head:
        raise SystemExit("the tokens up to the end of the question are not a prefix of the prompt's tokens")
    return text, ids, len(head)


def letter_ids(tok, text, ids):
    """The token the tokenizer appends for text + letter, for A and B (checked: exactly one new token,
    the prompt's tokens unchanged). Where that fails (Qwen2.5's pre-tokenizer glues "(" to the
    letter: "(A" is one token, 4346) the prompt loses its "(" and the merged tokens are the letters;
    `how` says which. Returns the letters, how, and the prompt ids to score."""
    out, merged = {}, {}
    for letter in ("A", "B"):
        more = tok(text + letter, add_special_tokens=False).input_ids
        if len(more) == len(ids) + 1 and more[:len(ids)] == ids:
            out[letter] = more[-1]
        else:
            merged[letter] = more[len(ids) - 1:]
    if merged and out:
        raise SystemExit(f"one letter appends one token and the other does not: {out} {merged}")
    how = "appended"
    if merged:
        # The letter never follows a lone "(" in this tokenizer: score the merged tokens "(A" /
        # "(B" at the position before "(" (the prompt without it), as steer does.
        bare = ids[:-1]
        for letter in ("A", "B"):
            more = tok(text[:-1] + "(" + letter, add_special_tokens=False).input_ids
            if not (len(more) == len(bare) + 1 and more[:len(bare)] == bare):
                raise SystemExit(f"'(' + {letter!r} is neither appended nor one merged token: {more[len(bare):]}")
            out[letter] = more[-1]
        how = ("merged: '(' and the letter are one token (" + ", ".join(f"'({k}' = {v}" for k, v in out.items()) +
               "); the prompt stops before '(' and these are scored")
        ids = bare
    if out["A"] == out["B"]:
        raise SystemExit("A and B are the same token")
    return out, how, ids


def matching_letter(answer):
    letter = answer.strip().strip("()").strip()
    if letter not in ("A", "B"):
        raise SystemExit(f"answer_matching_behavior {answer!r} is neither (A) nor (B)")
    return letter


def main():
    # "--multipliers -1,0,1": argparse takes "-1,0,1" for an option; glue it to its flag first.
    argv = sys.argv[1:]
    for i in range(len(argv) - 1):
        if argv[i] == "--multipliers":
            argv[i:i + 2] = [argv[i] + "=" + argv[i + 1]]
            break
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="smollm2-135m", help="model key (tools/reference/ref_models.py)")
    ap.add_argument("--vectors", required=True, help="steer vector file: F32 blocks.{L}.hook_resid_post [d_model]")
    ap.add_argument("--test", required=True, help="CAA A/B JSON: [{question, answer_matching_behavior, ...}]")
    ap.add_argument("--limit", type=int, default=0, help="first N questions (0: all)")
    ap.add_argument("--layers", default="all", help="all, 0-29, 3,5,7")
    ap.add_argument("--multipliers", default="-1,0,1")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--last-logits", action="store_true",
                    help="compute only the last position's logits (logits_to_keep=1); the paper computes them at every position")
    ap.add_argument("--out", help="write the JSON here")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)

    items = json.load(open(args.test, encoding="utf-8"))
    if args.limit:
        items = items[:args.limit]
    multipliers = parse_multipliers(args.multipliers)

    tok = ref_models.load_tokenizer(args.model)
    t0 = time.perf_counter()
    model = ref_models.load_model(args.model, dtype=torch.float32, attn_implementation="sdpa")
    load_s = time.perf_counter() - t0
    blocks = model.model.layers
    layers = parse_layers(args.layers, len(blocks))
    vecs = load_vectors(args.vectors, layers, model.config.hidden_size) if any(m != 0 for m in multipliers) else {}
    settings = ([(None, 0.0)] if 0 in multipliers else []) + \
               [(layer, m) for layer in layers for m in multipliers if m != 0]
    print(f"{args.model}: {len(items)} questions x {len(settings)} settings, load {load_s:.1f} s", file=sys.stderr)

    state = {"add": None, "from": 0}  # the vector being added now (None: no steering) and instruction_end

    def steer_hook(module, inputs, output):
        if state["add"] is None:
            return None
        h = output[0] if isinstance(output, tuple) else output
        h[:, state["from"]:, :] += state["add"]
        return None

    def forward(ids):
        with torch.inference_mode():
            kw = {"logits_to_keep": 1} if args.last_logits else {}
            return model(input_ids=ids, use_cache=False, **kw).logits[0, -1]

    prompts = []
    per_question = []
    forwards = 0
    letters = letters_how = None
    start = time.perf_counter()
    for qi, item in enumerate(items):
        text, ids, instruction_end = build_prompt(tok, item["question"])
        these, how, ids = letter_ids(tok, text, ids)
        if letters is None:
            letters, letters_how = these, how
            if how != "appended":
                print(f"  letter tokens: {how}", file=sys.stderr)
        elif these != letters:
            raise SystemExit(f"question {qi}: letter tokens {these} differ from question 0's {letters}")
        match = matching_letter(item["answer_matching_behavior"])
        prompts.append({"question": qi, "n_tokens": len(ids), "instruction_end": instruction_end, "matching": match})
        input_ids = torch.tensor([ids])
        state["from"] = instruction_end
        for layer, m in settings:
            handle = None
            if layer is not None:
                state["add"] = m * vecs[layer]  # float32, the model's dtype
                handle = blocks[layer].register_forward_hook(steer_hook)
            try:
                logits = forward(input_ids)
            finally:
                state["add"] = None
                if handle is not None:
                    handle.remove()
            forwards += 1
            p = logits.to(torch.float64).softmax(-1)
            pa, pb = p[letters["A"]].item(), p[letters["B"]].item()
            pm = (pa if match == "A" else pb) / (pa + pb)
            per_question.append({"question": qi, "layer": layer, "multiplier": m, "p_matching": pm,
                                 "p_a": pa, "p_b": pb})
        print(f"  question {qi}: {len(ids)} tokens, instruction_end {instruction_end}, "
              f"{time.perf_counter() - start:.1f} s", file=sys.stderr)
    seconds = time.perf_counter() - start

    results = []
    for layer, m in settings:
        rows = [r["p_matching"] for r in per_question if r["layer"] == layer and r["multiplier"] == m]
        results.append({"layer": layer, "multiplier": m, "p_matching_mean": sum(rows) / len(rows)})

    from importlib.metadata import version

    out = {
        "peer": "transformers",
        "versions": {**{name: version(name) for name in ("transformers", "gguf", "safetensors")}, "torch": torch.__version__,
                     "python": platform.python_version()},
        "model": args.model,
        "dtype": "float32",
        "attn_implementation": "sdpa",
        "threads": args.threads,
        "test": os.path.abspath(args.test),
        "vectors": os.path.abspath(args.vectors),
        "n_questions": len(items),
        "layers": layers,
        "multipliers": multipliers,
        "multiplier_0": "run once per question (layer null), not per layer: no vector is added",
        "steered_positions": "every position >= instruction_end (the template tail after the user's text, and the '(')",
        "logits": "last position only (logits_to_keep=1)" if args.last_logits else "every position (as the paper); the last one read",
        "letter_token_ids": letters,
        "letter_tokens_how": letters_how,
        "forwards": forwards,
        "seconds": seconds,
        "seconds_per_forward": seconds / forwards if forwards else None,
        "load_seconds": load_s,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "loadavg": [round(x, 2) for x in os.getloadavg()],
        "prompts": prompts,
        "results": results,
        "per_question": per_question,
    }
    if args.out:
        with open(args.out, "w", encoding="utf-8") as f:
            json.dump(out, f, indent=1)
            f.write("\n")
        print(json.dumps({k: v for k, v in out.items() if k != "per_question"}, indent=1))
    else:
        print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
