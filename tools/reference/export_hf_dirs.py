"""Writes the Hugging Face directories that the loader tests read (tests/data/hf/).

- tests/data/hf/stories260K/: the whole tiny model as transformers saves it (config.json,
  model.safetensors in float32, tokenizer.json, tokenizer_config.json, generation_config.json),
  loaded from stories260K.gguf exactly as for the parity fixtures. The C++ test can load it and
  compare with the GGUF path: both must give the same forward.
- tests/data/hf/smollm2-135m/: config.json, tokenizer.json and tokenizer_config.json only (no
  weights; the C++ test writes them itself), as transformers produces them from the GGUF.

The script checks its own output: the saved stories260K directory is loaded back with
transformers and must give bit-identical logits and identical token ids to the GGUF-loaded model;
the saved tokenizers must tokenize a few strings exactly as the GGUF tokenizers do.

Usage: /root/.cache/steer/venv-ref/bin/python tools/reference/export_hf_dirs.py
"""
import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ref_models  # noqa: E402

REPO = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
OUT = os.path.join(REPO, "tests", "data", "hf")
MAX_FILE_BYTES = 4 * 1000 * 1000
CHECK_TEXTS = ["Once upon a time, Lily saw a big dog.", "Tom said: \"Hi!\"\n3 cats ran.",
               "<|im_start|>user\nHello there<|im_end|>\n", "  two  spaces\tand a tab"]


def drop_gguf_traces(config):
    """The GGUF loader leaves a gguf quantization_config on the config; the saved files hold plain
    float32 tensors, so the directory must not claim to be quantized."""
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    config._name_or_path = ""


def save_tokenizer(tok, out_dir):
    # save_jinja_files=False keeps chat_template inside tokenizer_config.json, where most hub
    # repositories keep it (newer transformers would write chat_template.jinja instead).
    tok.save_pretrained(out_dir, save_jinja_files=False)
    # The slow-tokenizer leftovers (if any) are not part of what the loader reads.
    for extra in ("special_tokens_map.json", "chat_template.jinja", "tokenizer.model"):
        p = os.path.join(out_dir, extra)
        if os.path.exists(p):
            os.remove(p)
    # Rewrite tokenizer.json compactly: same content, about half the bytes of the indented form.
    path = os.path.join(out_dir, "tokenizer.json")
    with open(path, encoding="utf-8") as f:
        data = json.load(f)
    with open(path, "w", encoding="utf-8") as f:
        json.dump(data, f, ensure_ascii=False, separators=(",", ":"))


def check_tokenizer(tok, out_dir, texts):
    from transformers import AutoTokenizer

    again = AutoTokenizer.from_pretrained(out_dir)
    for t in texts:
        a, b = tok(t).input_ids, again(t).input_ids
        if a != b:
            raise SystemExit(f"{out_dir}: saved tokenizer gives {b} for {t!r}, the GGUF one {a}")


@torch.no_grad()
def export_stories():
    from transformers import AutoModelForCausalLM

    out_dir = os.path.join(OUT, "stories260K")
    os.makedirs(out_dir, exist_ok=True)
    model, tok = ref_models.load("stories260K", torch.float32, "eager")
    drop_gguf_traces(model.config)
    # The GGUF "quantizer" only marks the model as GGUF-sourced; its weights are already plain
    # float32 tensors, so detach it or save_pretrained refuses to write them.
    model.hf_quantizer = None
    model.is_quantized = False
    model.generation_config.pad_token_id = None
    model.save_pretrained(out_dir, safe_serialization=True)
    save_tokenizer(tok, out_dir)

    again = AutoModelForCausalLM.from_pretrained(out_dir, dtype=torch.float32, attn_implementation="eager")
    ids = torch.tensor([tok("Once upon a time, there was a dog named Max.").input_ids])
    a, b = model(ids).logits, again(ids).logits
    if not torch.equal(a, b):
        raise SystemExit(f"reloaded stories260K differs from the GGUF model: {(a - b).abs().max().item()}")
    sd_gguf, sd_hf = model.state_dict(), again.state_dict()
    for name, t in sd_gguf.items():
        if not torch.equal(t, sd_hf[name]):
            raise SystemExit(f"tensor {name} differs after the round trip")
    check_tokenizer(tok, out_dir, CHECK_TEXTS)
    print(f"stories260K: wrote {out_dir}; reload gives identical weights and logits")
    return out_dir


def export_smollm2_config():
    from transformers import AutoConfig

    key = "smollm2-135m"
    out_dir = os.path.join(OUT, key)
    os.makedirs(out_dir, exist_ok=True)
    path = ref_models.gguf_path(key)
    # Loading the config alone reads only the GGUF header (no weights).
    config = AutoConfig.from_pretrained(os.path.dirname(path), gguf_file=os.path.basename(path))
    drop_gguf_traces(config)
    config.architectures = ["LlamaForCausalLM"]
    config.dtype = "float32"
    config.save_pretrained(out_dir)
    tok = ref_models.load_tokenizer(key)
    save_tokenizer(tok, out_dir)
    check_tokenizer(tok, out_dir, CHECK_TEXTS)
    print(f"{key}: wrote {out_dir} (config and tokenizer only)")
    return out_dir


def main():
    torch.manual_seed(0)
    for out_dir in (export_stories(), export_smollm2_config()):
        for name in sorted(os.listdir(out_dir)):
            size = os.path.getsize(os.path.join(out_dir, name))
            print(f"  {name}: {size} bytes")
            if size >= MAX_FILE_BYTES:
                raise SystemExit(f"{name} is {size} bytes; fixtures must stay under 4 MB")


if __name__ == "__main__":
    main()
