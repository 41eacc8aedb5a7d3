"""Writes the parity fixtures that the C++ engine is checked against (tests/data/parity/<key>/).

For each model (default: all four) this loads the GGUF with Hugging Face transformers in float32
on the CPU (see ref_models.py), runs eight fixed prompts one at a time (batch 1, no padding,
eager attention) and records, per prompt: the token ids fed to the model, the residual stream at
the last four positions of every layer boundary, the final-position logits (top min(1024, V)
and every 97th entry) and a 32-token greedy continuation with the top-1/top-2 logit gap at each step.
The file layout is documented in tools/reference/README.md; keep the two in step.

Before writing anything it checks its own reference: the hidden states that transformers returns
must equal the block inputs and the final-norm output caught with forward hooks, and the greedy
tokens made with the KV cache must equal the argmax of one uncached forward over the whole
sequence (wherever the top-2 gap is clear of float noise).

Usage: /root/.cache/steer/venv-ref/bin/python tools/reference/make_parity_fixtures.py [KEY ...]
"""
import argparse
import importlib.metadata
import json
import math
import os
import sys

import torch
from safetensors.torch import save_file

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ref_models  # noqa: E402

REPO = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
HIDDEN_POSITIONS = [-4, -3, -2, -1]
TOP_K = 1024
STRIDE = 97
N_GREEDY = 32
MAX_FILE_BYTES = 4 * 1000 * 1000

# Project-written prompts. Chat prompts are rendered with the model's own template; raw prompts
# are plain text tokenized with add_special_tokens=True.
CHAT_PROMPTS = [
    ("chat_short", [{"role": "user", "content": "Hi! How are you today?"}]),
    ("chat_long_instruction", [{"role": "user", "content":
        "Write a polite note to my neighbour saying that a parcel for them was left at my door "
        "by mistake and that they can collect it any evening."}]),
    ("chat_multiline_system", [
        {"role": "system", "content": "You answer in one short sentence."},
        {"role": "user", "content":
            "My chores for today:\n- water the plants\n- fold the laundry\n- take out the bins\n"
            "Which should I do first?"}]),
    ("chat_digits", [{"role": "user", "content": "What is 17 * 23 + 4.5? Reply with the number only."}]),
]
RAW_PROMPTS = [
    ("raw_short", "The old lighthouse keeper said"),
    ("raw_code", "def add(a, b):\n    \"\"\"Return the sum of a and b.\"\"\"\n    return"),
    ("raw_digits", "On 2024-03-15 at 09:45, train No. 7731 left platform #4 with 1,208 passengers; "
                   "it was 12.5 minutes late."),
    ("raw_story", "In a small village between two green hills there lived a baker who always woke up "
                  "before the sun, because"),
]
# stories260K has a 512-token vocabulary and knows only children's stories: eight raw prompts.
STORY_PROMPTS = [
    ("story_once", "Once upon a time"),
    ("story_dog", "One day, a little dog found a big red ball in the"),
    ("story_park", "Tom and Sue went to the park. They saw a tree with"),
    ("story_multiline", "The cat sat on the mat.\nThe dog ran to the door.\nThen mom said,"),
    ("story_digits", "Lily had 3 apples and 2 pears. She gave 1 apple to Ben!"),
    ("story_quote", "\"Look at the bird!\" said Max. \"It is so"),
    ("story_long", "Once there was a kind girl named Mia who liked to help her friends. Every day "
                   "she played in the garden until"),
    ("story_short", "The sun was"),
]

# Gemma's GGUF has no chat_template; this is the Gemma family's documented turn format.
# A system message goes at the top of the first user turn followed by a blank line, which is
# what Gemma's own Hugging Face template does.
GEMMA_TEMPLATE = "<bos><start_of_turn>user\n{msg}<end_of_turn>\n<start_of_turn>model\n"

HOW_LOADED = {
    "smollm2-135m": (
        "Loaded natively by transformers {tv} from the GGUF: AutoModelForCausalLM.from_pretrained(dir, "
        "gguf_file=..., dtype=torch.float32, attn_implementation='eager') and AutoTokenizer.from_pretrained(dir, "
        "gguf_file=...). transformers dequantized every tensor (Q4_1/Q8_0/F32) to float32 with the gguf package and "
        "un-permuted attn_q/attn_k (llama.cpp permutes them for its interleaved rope); the model is LlamaForCausalLM "
        "with tied embeddings. The tokenizer is transformers' byte-level BPE rebuilt from the GGUF vocabulary and "
        "merges (it adds no BOS to raw text), with one patch from ref_models.py: transformers does not know "
        "tokenizer.ggml.pre='smollm' and would use the plain GPT-2 split, so the pre-tokenizer is set to "
        "Digits(individual_digits=True) then ByteLevel, as llama.cpp's smollm rule and SmolLM2's tokenizer.json "
        "do. Chat prompts use the GGUF's own chat_template via apply_chat_template (which inserts SmolLM2's "
        "default system prompt when none is given)."),
    "qwen2.5-coder-0.5b": (
        "Loaded natively by transformers {tv} from the GGUF: AutoModelForCausalLM.from_pretrained(dir, "
        "gguf_file=..., dtype=torch.float32, attn_implementation='eager') and AutoTokenizer.from_pretrained(dir, "
        "gguf_file=...). transformers dequantized every tensor (Q4_K/Q5_0/Q6_K/Q8_0/F32) to float32 with the gguf "
        "package; qwen2 weights are not permuted. The model is Qwen2ForCausalLM with q/k/v biases and an untied LM "
        "head (the GGUF has output.weight). The tokenizer is transformers' byte-level BPE with the Qwen2 split "
        "regex rebuilt from the GGUF (no BOS added to raw text). Chat prompts use the GGUF's own chat_template via "
        "apply_chat_template (which inserts Qwen's default system prompt when none is given)."),
    "gemma3-270m": (
        "Loaded natively by transformers {tv} from the GGUF: AutoModelForCausalLM.from_pretrained(dir, "
        "gguf_file=..., dtype=torch.float32, attn_implementation='eager') gives Gemma3ForCausalLM (Gemma3TextConfig: "
        "18 layers, sliding window 512 on 5 of every 6 layers, rope base 10000 local / 1e6 global, "
        "query_pre_attn_scalar 256, no soft-caps, tied embeddings). transformers dequantized every tensor "
        "(Q4_K/Q5_0/Q6_K/Q8_0/F32) with the gguf package and subtracted 1 from every *norm.weight (llama.cpp stores "
        "Gemma norms with +1; HF's Gemma3RMSNorm computes x*(1+w)); gemma weights are not permuted. hidden[0] is "
        "the embedding already multiplied by sqrt(640) (in float32). The tokenizer is transformers' GemmaTokenizer "
        "rebuilt from the GGUF's SentencePiece vocabulary; it adds <bos> to raw text. The GGUF has no chat_template, "
        "so chat prompts are the Gemma turn format written out as text, '<bos><start_of_turn>user\\n{{msg}}"
        "<end_of_turn>\\n<start_of_turn>model\\n' (a system message is put at the top of the user turn followed by a "
        "blank line, as Gemma's own template does), tokenized with add_special_tokens=False."),
    "stories260K": (
        "Loaded by transformers {tv} from the GGUF with one patch: the file stores padding/separator token ids of "
        "4294967295 (uint32 -1, 'none'), on which transformers' GGUF tokenizer reader raises IndexError; "
        "ref_models.py drops special-token ids outside the vocabulary while the tokenizer is read and passes "
        "pad_token_id=None to the model. Weights are the file's F32 tensors; transformers un-permuted attn_q/attn_k "
        "(llama arch) and built LlamaForCausalLM (5 layers, d_model 64, 8 heads, 4 kv heads, head_dim 8, untied "
        "output.weight). The tokenizer is transformers' SentencePiece-style BPE rebuilt from the GGUF vocabulary and "
        "scores; it adds <s> (id 1). All eight prompts are raw text."),
}


def render_prompt(tok, key, kind, payload):
    """Returns (text, ids) exactly as they are fed to the model."""
    if kind == "raw":
        return payload, tok(payload, add_special_tokens=True).input_ids
    if tok.chat_template:
        text = tok.apply_chat_template(payload, add_generation_prompt=True, tokenize=False)
        ids = tok(text, add_special_tokens=False).input_ids
        direct = tok.apply_chat_template(payload, add_generation_prompt=True, tokenize=True)
        direct = direct["input_ids"] if isinstance(direct, dict) or hasattr(direct, "keys") else direct
        assert list(direct) == ids, f"{key}: chat template ids differ between text and tokenize=True paths"
        return text, ids
    if key != "gemma3-270m":
        raise SystemExit(f"{key}: no chat template and no family template known")
    system = [m["content"] for m in payload if m["role"] == "system"]
    user = [m["content"] for m in payload if m["role"] == "user"]
    assert len(user) == 1 and len(system) <= 1
    msg = (system[0] + "\n\n" + user[0]) if system else user[0]
    text = GEMMA_TEMPLATE.format(msg=msg)
    return text, tok(text, add_special_tokens=False).input_ids


def prompts_for(key):
    if key == "stories260K":
        return [(name, "raw", text) for name, text in STORY_PROMPTS]
    return [(n, "chat", m) for n, m in CHAT_PROMPTS] + [(n, "raw", t) for n, t in RAW_PROMPTS]


class HiddenHooks:
    """Catches each block's input and the final norm's output, to check output_hidden_states."""

    def __init__(self, model):
        self.inputs, self.final = [], None
        self.handles = []
        for layer in model.model.layers:
            self.handles.append(layer.register_forward_pre_hook(self._pre, with_kwargs=True))
        self.handles.append(model.model.norm.register_forward_hook(self._post))

    def _pre(self, module, args, kwargs):
        x = args[0] if args else kwargs["hidden_states"]
        self.inputs.append(x.detach().clone())

    def _post(self, module, args, output):
        self.final = output.detach().clone()

    def remove(self):
        for h in self.handles:
            h.remove()


@torch.no_grad()
def run_prompt(model, tok, ids, top_k):
    n_layers = model.config.num_hidden_layers
    input_ids = torch.tensor([ids], dtype=torch.long)
    hooks = HiddenHooks(model)
    out = model(input_ids=input_ids, use_cache=True, output_hidden_states=True)
    hooks.remove()
    hs = out.hidden_states
    assert len(hs) == n_layers + 1, (len(hs), n_layers)
    caught = hooks.inputs + [hooks.final]
    for i, (a, b) in enumerate(zip(hs, caught)):
        if not torch.equal(a, b):
            raise SystemExit(f"hidden_states[{i}] differs from the hooked block input/final norm output "
                             f"(max abs diff {(a - b).abs().max().item():.3g})")
    hidden = torch.stack([h[0, -4:, :] for h in hs]).float().contiguous()  # [n_layers+1, 4, d_model]
    logits = out.logits[0, -1].float()  # [V]
    top = torch.topk(logits, top_k, sorted=True)

    # Greedy continuation with the KV cache; no stop at EOS (32 tokens always).
    past = out.past_key_values
    step_logits = logits
    greedy, gaps = [], []
    for _ in range(N_GREEDY):
        t2 = torch.topk(step_logits, 2)
        nxt = int(t2.indices[0])
        greedy.append(nxt)
        gaps.append(float(t2.values[0] - t2.values[1]))
        o = model(input_ids=torch.tensor([[nxt]]), past_key_values=past, use_cache=True)
        past = o.past_key_values
        step_logits = o.logits[0, -1].float()

    # Check: one uncached forward over prompt+greedy must pick the same tokens.
    full = model(input_ids=torch.tensor([ids + greedy[:-1]]), use_cache=False).logits[0].float()
    n = len(ids)
    check = full[n - 1:].argmax(-1).tolist()
    for step, (a, b) in enumerate(zip(check, greedy)):
        if a != b:
            if gaps[step] > 1e-3:
                raise SystemExit(f"greedy step {step}: cached {b} vs uncached {a} with gap {gaps[step]:.3g}")
            print(f"    note: step {step} is a near-tie (gap {gaps[step]:.2g}); cached and uncached disagree")
            break  # later steps follow different prefixes
    return hidden, top.values.contiguous(), top.indices.to(torch.int32).contiguous(), \
        logits[::STRIDE].contiguous(), greedy, gaps


def make_fixture(key):
    torch.manual_seed(0)
    path = ref_models.gguf_path(key)
    print(f"== {key}: {path}")
    model, tok = ref_models.load(key, torch.float32, "eager")
    cfg = model.config
    vocab = model.get_output_embeddings().weight.shape[0]
    top_k = min(TOP_K, vocab)  # stories260K has only 512 logits
    fixture = {
        "model_key": key,
        "source_gguf_sha256": ref_models.sha256_file(path),
        "transformers_version": importlib.metadata.version("transformers"),
        "torch_version": torch.__version__,
        "gguf_version": importlib.metadata.version("gguf"),
        "dtype": "float32",
        "n_layers": cfg.num_hidden_layers,
        "d_model": cfg.hidden_size,
        "vocab_size": vocab,
        "hidden_positions": HIDDEN_POSITIONS,
        "logits_top_k": top_k,
        "logits_stride": STRIDE,
        "how_loaded": HOW_LOADED[key].format(tv=importlib.metadata.version("transformers")),
        "prompts": [],
    }
    tensors = {}
    for i, (name, kind, payload) in enumerate(prompts_for(key)):
        text, ids = render_prompt(tok, key, kind, payload)
        assert len(ids) >= 5, f"{key}/{name}: only {len(ids)} tokens"
        hidden, top_v, top_i, strided, greedy, gaps = run_prompt(model, tok, ids, top_k)
        assert hidden.shape == (cfg.num_hidden_layers + 1, 4, cfg.hidden_size)
        assert strided.shape[0] == math.ceil(vocab / STRIDE)
        assert int(top_i[0]) == greedy[0]
        entry = {"name": name, "kind": kind}
        if kind == "chat":
            entry["messages"] = payload
        greedy_text = tok.decode(greedy, skip_special_tokens=False)
        entry.update({"text": text, "ids": ids, "greedy_ids": greedy, "greedy_text": greedy_text,
                      "greedy_top2_gap": gaps})
        fixture["prompts"].append(entry)
        tensors[f"hidden.{i}"] = hidden
        tensors[f"logits_top_values.{i}"] = top_v
        tensors[f"logits_top_indices.{i}"] = top_i
        tensors[f"logits_strided.{i}"] = strided
        print(f"  [{i}] {name}: {len(ids)} ids, min gap {min(gaps):.3g}; greedy: {greedy_text!r}")

    out_dir = os.path.join(REPO, "tests", "data", "parity", key)
    os.makedirs(out_dir, exist_ok=True)
    json_path = os.path.join(out_dir, "fixture.json")
    st_path = os.path.join(out_dir, "tensors.safetensors")
    with open(json_path, "w", encoding="utf-8") as f:
        json.dump(fixture, f, indent=1, ensure_ascii=False)
        f.write("\n")
    save_file(tensors, st_path, metadata={"model_key": key})  # one key: byte-stable header
    for p in (json_path, st_path):
        size = os.path.getsize(p)
        print(f"  wrote {os.path.relpath(p, REPO)} ({size} bytes)")
        if size >= MAX_FILE_BYTES:
            raise SystemExit(f"{p} is {size} bytes; fixtures must stay under 4 MB")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("keys", nargs="*", default=ref_models.MODEL_KEYS,
                        help="model keys (default: all of %(default)s)")
    args = parser.parse_args()
    torch.use_deterministic_algorithms(True)
    for key in args.keys:
        make_fixture(key)


if __name__ == "__main__":
    main()
