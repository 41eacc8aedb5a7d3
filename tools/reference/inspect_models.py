"""Prints what a GGUF file really contains: architecture, shapes, tensor types, tokenizer, licence.

The facts in docs/models.md were read with this script. It reads only the GGUF header and tensor
table with the `gguf` package (no weights are dequantized), so it takes a second per file, except
for the sha256 of the whole file.

Usage: /root/.cache/steer/venv-ref/bin/python tools/reference/inspect_models.py [KEY_OR_PATH ...] [--json]
(default: the four project models; see ref_models.MODEL_KEYS)
"""
import argparse
import collections
import json
import os
import re
import sys

from gguf import GGUFReader, GGMLQuantizationType

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ref_models  # noqa: E402

# token_type values as llama.cpp writes them
TOKEN_TYPES = {1: "normal", 2: "unknown", 3: "control", 4: "user_defined", 5: "unused", 6: "byte"}


def field_value(reader, key):
    field = reader.fields.get(key)
    if field is None:
        return None
    return field.contents()


def describe(path):
    reader = GGUFReader(path)
    arch = field_value(reader, "general.architecture")
    meta = {}
    for key in reader.fields:
        if key.startswith("GGUF."):
            continue
        if key in ("tokenizer.ggml.tokens", "tokenizer.ggml.scores", "tokenizer.ggml.token_type",
                   "tokenizer.ggml.merges"):
            meta[key] = f"<array of {len(reader.fields[key].data)}>"
        elif key == "tokenizer.chat_template":
            meta[key] = f"<{len(field_value(reader, key))} characters>"
        else:
            meta[key] = field_value(reader, key)

    def a(name):
        return field_value(reader, f"{arch}.{name}")

    tokens = field_value(reader, "tokenizer.ggml.tokens") or []
    token_types = field_value(reader, "tokenizer.ggml.token_type") or []

    # Tensor table: type per tensor, grouped by role (layer number stripped).
    n_params = 0
    type_counts = collections.Counter()
    roles = collections.defaultdict(collections.Counter)
    names = set()
    for t in reader.tensors:
        n_params += int(t.n_elements)
        type_name = GGMLQuantizationType(t.tensor_type).name
        type_counts[type_name] += 1
        roles[re.sub(r"^blk\.\d+\.", "blk.N.", t.name)][type_name] += 1
        names.add(t.name)

    def token(i):
        return tokens[i] if i is not None and 0 <= i < len(tokens) else None

    special = {}
    for key in ("bos", "eos", "unknown", "padding", "seperator", "eot", "eom"):
        i = field_value(reader, f"tokenizer.ggml.{key}_token_id")
        if i is not None:
            special[key] = {"id": int(i), "text": token(int(i))}
    control = [(i, tokens[i]) for i, ty in enumerate(token_types) if ty == 3]
    user_defined = sum(1 for ty in token_types if ty == 4)

    head_count = a("attention.head_count")
    d_model = a("embedding_length")
    head_dim = a("attention.key_length") or (d_model // head_count if head_count else None)
    template = field_value(reader, "tokenizer.chat_template")
    return {
        "path": os.path.abspath(path),
        "file_bytes": os.path.getsize(path),
        "sha256": ref_models.sha256_file(path),
        "gguf_version": int(reader.fields["GGUF.version"].contents()),
        "name": field_value(reader, "general.name"),
        "architecture": arch,
        "license_metadata": field_value(reader, "general.license"),
        "parameters": n_params,
        "d_model": d_model,
        "n_layers": a("block_count"),
        "n_heads": head_count,
        "n_kv_heads": a("attention.head_count_kv"),
        "head_dim": head_dim,
        "ffn": a("feed_forward_length"),
        "vocab": len(tokens),
        "context": a("context_length"),
        "rope_freq_base": a("rope.freq_base"),
        "rope_dimension_count": a("rope.dimension_count"),
        "sliding_window": a("attention.sliding_window"),
        "rms_eps": a("attention.layer_norm_rms_epsilon"),
        "tied_embeddings": "output.weight" not in names,
        "tensor_types": dict(type_counts.most_common()),
        "tensor_roles": {role: dict(c) for role, c in sorted(roles.items())},
        "tokenizer_model": field_value(reader, "tokenizer.ggml.model"),
        "tokenizer_pre": field_value(reader, "tokenizer.ggml.pre"),
        "add_bos_token": field_value(reader, "tokenizer.ggml.add_bos_token"),
        "add_eos_token": field_value(reader, "tokenizer.ggml.add_eos_token"),
        "add_space_prefix": field_value(reader, "tokenizer.ggml.add_space_prefix"),
        "special_tokens": special,
        "control_tokens": len(control),
        "control_tokens_first": control[:12],
        "user_defined_tokens": user_defined,
        "chat_template": template,
        "metadata": meta,
    }


def print_text(info):
    print(f"# {info['path']}")
    skip = ("metadata", "chat_template", "tensor_roles")
    for k, v in info.items():
        if k not in skip:
            print(f"{k}: {v}")
    print("tensor_roles:")
    for role, counts in info["tensor_roles"].items():
        print(f"  {role}: {counts}")
    print("chat_template:", "absent" if info["chat_template"] is None else repr(info["chat_template"]))
    print("metadata:")
    for k, v in info["metadata"].items():
        print(f"  {k} = {v!r}"[:400])
    print()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="*", default=ref_models.MODEL_KEYS,
                        help="model keys or GGUF paths (default: the four project models)")
    parser.add_argument("--json", action="store_true", help="one JSON object per model, one per line")
    args = parser.parse_args()
    for m in args.models:
        path = m if os.path.exists(m) else ref_models.gguf_path(m)
        info = describe(path)
        if args.json:
            print(json.dumps(info, default=str))
        else:
            print_text(info)


if __name__ == "__main__":
    main()
