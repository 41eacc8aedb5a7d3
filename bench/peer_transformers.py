"""The Hugging Face transformers side of the engine benchmark (smollm2-135m, CPU, 2 threads).

Measures, on the same inputs as the C++ benchmark (bench/prompts_smollm2.json):
- prefill: 32 prompts x 64 tokens, once as one batch of 32 and once as four batches of 8. All
  prompts are exactly 64 tokens, so there is no padding and no attention mask is needed.
- decode: greedy, 64 new tokens with the KV cache, at batch 1 (prompt 0) and batch 16
  (prompts 0..15). Only the 64 single-token steps are timed; the prefill before them is not.
  The first new token comes from the prefill logits; each timed step feeds one token per row
  and produces the next, so a run of 64 steps yields 64 tokens per row.
in float32 and in bfloat16 (the GGUF dequantized to that dtype by transformers), each dtype in
its own child process so that its peak RSS (ru_maxrss) is its own. Attention is transformers'
"sdpa" implementation (its default), eager Python generation loop, no torch.compile.
Times are wall clock after one untimed warm-up of the same shape: prefill is the best of 3 runs,
decode a single run of 64 steps. The machine's load average is recorded before and after,
because on a shared 2-core machine anything else running shows up directly in these numbers.

Prompt recipe (reproducible from the JSON alone): sentence i of the 32 in SENTENCES is repeated,
joined by single spaces, until the text is long enough; it is tokenized with the GGUF's tokenizer
without special tokens (SmolLM2 adds no BOS) and cut to the first 64 ids. `--write-prompts`
rewrites bench/prompts_smollm2.json; the C++ side reads the ids from there and never tokenizes.

Usage: /root/.cache/steer/venv-ref/bin/python bench/peer_transformers.py [--write-prompts]
Prints one JSON object on stdout (progress on stderr).
"""
import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tools", "reference"))
import ref_models  # noqa: E402

KEY = "smollm2-135m"
PROMPTS_JSON = os.path.join(HERE, "prompts_smollm2.json")
N_PROMPTS, PROMPT_LEN, N_NEW, THREADS = 32, 64, 64, 2

SENTENCES = [
    "The morning train to the coast was full of people carrying umbrellas and paper cups of tea.",
    "A small robot rolled across the kitchen floor, looking for crumbs under the table.",
    "She planted tomatoes, beans and sunflowers in neat rows behind the old stone house.",
    "The committee met on Tuesday to decide how the new library should spend its budget.",
    "Rain drummed on the tin roof while the children counted the seconds after each flash.",
    "He wrote a short program that sorts a list of names and prints them in columns.",
    "Every autumn the geese fly south over the lake in long, noisy lines.",
    "The bakery on the corner sells bread that is still warm at seven in the morning.",
    "To change a bicycle tyre, first let out the air and loosen the edge of the tyre with a lever.",
    "The museum's newest room shows maps drawn by sailors more than three hundred years ago.",
    "Our team finished the project two days early and celebrated with pizza.",
    "A gentle wind moved the tall grass, and the whole field seemed to breathe.",
    "The recipe calls for two cups of flour, one egg, a pinch of salt and some milk.",
    "At the top of the hill there is a bench where you can see three villages at once.",
    "The teacher asked the class to explain why the moon looks different each night.",
    "Please remember to switch off the lights and lock the back door before you leave.",
    "The river was so clear that we could see small fish resting between the stones.",
    "A good night's sleep helps the brain store what it learned during the day.",
    "The orchestra tuned their instruments while the audience slowly found their seats.",
    "My grandfather keeps a notebook where he writes the weather of every single day.",
    "The city opened a new bridge for bicycles and people walking to work.",
    "When the power went out, we played cards by candlelight until midnight.",
    "The spacecraft sent back pictures of a red desert covered in tiny rocks.",
    "Water boils at a lower temperature high in the mountains because the air is thinner.",
    "The shop assistant wrapped the gift in blue paper and tied it with a silver ribbon.",
    "A curious cat climbed onto the bookshelf and knocked over a vase of flowers.",
    "The farmers market is busiest on Saturday, when the strawberries are in season.",
    "He practised the piano for an hour every evening before the big concert.",
    "The new phone can translate spoken words into twenty languages almost instantly.",
    "Snow covered the mountain road, so the bus drove slowly with its lights on.",
    "The scientist measured the plants every week and wrote the numbers in a table.",
    "After the storm, the beach was covered with shells, seaweed and pieces of wood.",
]


def make_prompts(tok):
    rows = []
    for s in SENTENCES:
        text = s
        while len(tok(text, add_special_tokens=False).input_ids) < PROMPT_LEN:
            text = text + " " + s
        rows.append(tok(text, add_special_tokens=False).input_ids[:PROMPT_LEN])
    return rows


def write_prompts():
    tok = ref_models.load_tokenizer(KEY)
    ids = make_prompts(tok)
    doc = {
        "model_key": KEY,
        "source_gguf_sha256": ref_models.sha256_file(ref_models.gguf_path(KEY)),
        "recipe": ("for each sentence s: text = s, then while text has fewer than 64 tokens: "
                   "text = text + ' ' + s; ids = tokenize(text, add_special_tokens=False)[:64] "
                   "with the GGUF's tokenizer (transformers " + __import__("transformers").__version__ + ")"),
        "n_prompts": N_PROMPTS,
        "prompt_len": PROMPT_LEN,
        "sentences": SENTENCES,
        "ids": ids,
    }
    # One prompt per line keeps the file readable and diffable.
    text = json.dumps({k: v for k, v in doc.items() if k != "ids"}, indent=1, ensure_ascii=False)
    rows = ",\n".join("  " + json.dumps(r) for r in ids)
    with open(PROMPTS_JSON, "w", encoding="utf-8") as f:
        f.write(text[:-2] + ',\n "ids": [\n' + rows + "\n ]\n}\n")
    assert json.load(open(PROMPTS_JSON, encoding="utf-8"))["ids"] == ids
    print(f"wrote {PROMPTS_JSON}", file=sys.stderr)


def read_prompts():
    with open(PROMPTS_JSON, encoding="utf-8") as f:
        doc = json.load(f)
    ids = doc["ids"]
    assert len(ids) == N_PROMPTS and all(len(r) == PROMPT_LEN for r in ids)
    return torch.tensor(ids, dtype=torch.long)


@torch.no_grad()
def prefill(model, ids, batch):
    for start in range(0, ids.shape[0], batch):
        model(input_ids=ids[start:start + batch], use_cache=False, logits_to_keep=1)


@torch.no_grad()
def decode(model, prompt):
    """Prefill (untimed), then N_NEW timed single-token greedy steps. Returns (seconds, ids)."""
    out = model(input_ids=prompt, use_cache=True, logits_to_keep=1)
    cache = out.past_key_values
    nxt = out.logits[:, -1].argmax(-1, keepdim=True)  # [batch, 1]
    produced = []
    start = time.perf_counter()
    for _ in range(N_NEW):
        produced.append(nxt)
        out = model(input_ids=nxt, past_key_values=cache, use_cache=True)
        cache = out.past_key_values
        nxt = out.logits[:, -1].argmax(-1, keepdim=True)
    seconds = time.perf_counter() - start
    return seconds, torch.cat(produced, dim=1)


def timed(fn, runs=3):
    """Best wall time of `runs` runs after one warm-up of the same shape."""
    fn()
    best = float("inf")
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def run_one_dtype(dtype_name):
    dtype = {"float32": torch.float32, "bfloat16": torch.bfloat16}[dtype_name]
    torch.set_num_threads(THREADS)
    torch.manual_seed(0)
    ids = read_prompts()
    t0 = time.perf_counter()
    model = ref_models.load_model(KEY, dtype=dtype, attn_implementation="sdpa")
    load_s = time.perf_counter() - t0
    n_tokens = ids.numel()
    res = {"load_s": round(load_s, 2)}
    for batch in (32, 8):
        s = timed(lambda: prefill(model, ids, batch))
        res[f"prefill_batch{batch}_s"] = round(s, 3)
        res[f"prefill_batch{batch}_tok_s"] = round(n_tokens / s, 1)
        print(f"  {dtype_name} prefill batch {batch}: {n_tokens / s:.1f} tok/s", file=sys.stderr)
    for batch in (1, 16):
        decode(model, ids[:batch, :8])  # warm-up (short prompt, full 64 steps)
        s, produced = decode(model, ids[:batch])
        res[f"decode_batch{batch}_s"] = round(s, 3)
        res[f"decode_batch{batch}_tok_s"] = round(batch * N_NEW / s, 1)
        if batch == 1:
            res["decode_batch1_first16_ids"] = produced[0, :16].tolist()
        print(f"  {dtype_name} decode batch {batch}: {batch * N_NEW / s:.1f} tok/s", file=sys.stderr)
    res["peak_rss_mib"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    return res


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write-prompts", action="store_true", help="rewrite bench/prompts_smollm2.json first")
    parser.add_argument("--child", choices=["float32", "bfloat16"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(run_one_dtype(args.child)))
        return
    if args.write_prompts or not os.path.exists(PROMPTS_JSON):
        write_prompts()
    import transformers

    flags = open("/proc/cpuinfo").read().split() if os.path.exists("/proc/cpuinfo") else []
    result = {
        "engine": "transformers",
        "model_key": KEY,
        "transformers_version": transformers.__version__,
        "torch_version": torch.__version__,
        "threads": THREADS,
        "attn_implementation": "sdpa",
        "cpu": platform.processor() or platform.machine(),
        "cpu_avx512_bf16": "avx512_bf16" in flags,
        "cpu_amx_bf16": "amx_bf16" in flags,
        "prompts": f"{N_PROMPTS} x {PROMPT_LEN} tokens from bench/prompts_smollm2.json (no padding)",
        "prefill": "all 32 prompts, as one batch of 32 and as 4 batches of 8; tok/s = 2048 / seconds",
        "decode": f"greedy {N_NEW} new tokens with KV cache; batch 1 = prompt 0, batch 16 = prompts 0..15; "
                  "tok/s = batch * 64 / seconds of the 64 decode steps (prefill not timed)",
        "timing": "wall clock after one warm-up; prefill best of 3 runs, decode one run",
        "loadavg_before": [round(x, 2) for x in os.getloadavg()],
    }
    for dtype_name in ("float32", "bfloat16"):
        proc = subprocess.run([sys.executable, os.path.abspath(__file__), "--child", dtype_name],
                              stdout=subprocess.PIPE, check=True, text=True)
        result[dtype_name] = json.loads(proc.stdout.strip().splitlines()[-1])
    result["loadavg_after"] = [round(x, 2) for x in os.getloadavg()]
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
