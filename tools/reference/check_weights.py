"""Checks the weights transformers loaded against the GGUF tensors dequantized independently.

For every tensor of each model's GGUF this dequantizes the raw data with the gguf package
(gguf.quants.dequantize, the Python port of llama.cpp's dequantization), applies the documented
GGUF -> HF transforms itself, and requires bit equality with the parameter transformers built:
- llama arch: attn_q / attn_k rows un-permuted (llama.cpp's converter interleaves the two rope
  halves of each head; see unpermute below; attn_k uses the KV head count);
- gemma3: every *norm.weight minus 1 (llama.cpp stores Gemma norms with +1 added);
- names through the GGUF -> HF table below; a GGUF without output.weight has a tied LM head.
So the table, the transforms and the dequantization the parity fixtures rest on are written
down and tested in one place, and the C++ loader can follow exactly this.

Usage: /root/.cache/steer/venv-ref/bin/python tools/reference/check_weights.py [KEY ...]
"""
import argparse
import os
import re
import sys

import numpy as np
import torch
from gguf import GGUFReader
from gguf.quants import dequantize

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ref_models  # noqa: E402

# GGUF tensor name (blk.N. stripped) -> HF parameter name (model.layers.N. prefixed)
LAYER_NAMES = {
    "attn_q": "self_attn.q_proj", "attn_k": "self_attn.k_proj", "attn_v": "self_attn.v_proj",
    "attn_output": "self_attn.o_proj", "ffn_gate": "mlp.gate_proj", "ffn_up": "mlp.up_proj",
    "ffn_down": "mlp.down_proj", "attn_norm": "input_layernorm",
    "attn_q_norm": "self_attn.q_norm", "attn_k_norm": "self_attn.k_norm",
}
# llama/qwen2 have one norm before the MLP; gemma3 has four norms per block.
LLAMA_NORMS = {"ffn_norm": "post_attention_layernorm"}
GEMMA3_NORMS = {"post_attention_norm": "post_attention_layernorm", "ffn_norm": "pre_feedforward_layernorm",
                "post_ffw_norm": "post_feedforward_layernorm"}
GLOBAL_NAMES = {"token_embd.weight": "model.embed_tokens.weight", "output_norm.weight": "model.norm.weight",
                "output.weight": "lm_head.weight"}


def hf_name(gguf_name, arch):
    if gguf_name in GLOBAL_NAMES:
        return GLOBAL_NAMES[gguf_name]
    m = re.fullmatch(r"blk\.(\d+)\.(\w+)\.(weight|bias)", gguf_name)
    if not m:
        raise SystemExit(f"no HF name for GGUF tensor {gguf_name}")
    table = dict(LAYER_NAMES, **(GEMMA3_NORMS if arch == "gemma3" else LLAMA_NORMS))
    return f"model.layers.{m.group(1)}.{table[m.group(2)]}.{m.group(3)}"


def unpermute(w, n_head):
    """Inverse of llama.cpp's Q/K permute. w: [n_head * D, d_model], D = head_dim.
    GGUF row h*D + 2*i + j (i < D/2, j in {0, 1}: rope pairs interleaved) is HF row
    h*D + j*(D/2) + i (rope halves: first the D/2 "real" rows, then the D/2 "imaginary" ones)."""
    rows = w.shape[0]
    return w.reshape(n_head, rows // n_head // 2, 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def check(key):
    path = ref_models.gguf_path(key)
    reader = GGUFReader(path)
    arch = reader.fields["general.architecture"].contents()
    n_head = int(reader.fields[f"{arch}.attention.head_count"].contents())
    n_kv = int(reader.fields[f"{arch}.attention.head_count_kv"].contents())
    model = ref_models.load_model(key)
    params = dict(model.named_parameters())
    seen = set()
    for t in reader.tensors:
        # numpy shape of the dequantized data is the reverse of GGUF's ne: [rows, cols] for a matrix
        w = dequantize(t.data, t.tensor_type).astype(np.float32).reshape(tuple(reversed([int(x) for x in t.shape])))
        if arch == "llama" and re.search(r"\.attn_q\.weight$", t.name):
            w = unpermute(w, n_head)
        elif arch == "llama" and re.search(r"\.attn_k\.weight$", t.name):
            w = unpermute(w, n_kv)
        if arch == "gemma3" and t.name.endswith("norm.weight"):
            w = w - 1
        name = hf_name(t.name, arch)
        got = params[name].detach().numpy()
        if got.shape != w.shape or not np.array_equal(got, w):
            diff = np.abs(got - w).max() if got.shape == w.shape else f"shape {got.shape} vs {w.shape}"
            raise SystemExit(f"{key}: {t.name} -> {name} differs ({diff})")
        seen.add(name)
    missing = [n for n in params if n not in seen]
    tied = "output.weight" not in {t.name for t in reader.tensors}
    if tied:
        assert missing == ["lm_head.weight"] or not missing, missing
        assert model.lm_head.weight.data_ptr() == model.model.embed_tokens.weight.data_ptr()
    else:
        assert not missing, missing
    print(f"{key}: {len(reader.tensors)} GGUF tensors equal transformers' parameters bit for bit"
          f" (tied LM head: {tied})")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("keys", nargs="*", default=ref_models.MODEL_KEYS)
    args = parser.parse_args()
    torch.manual_seed(0)
    for key in args.keys:
        check(key)


if __name__ == "__main__":
    main()
