"""Loading the project's reference models with Hugging Face transformers, straight from GGUF.

One place that knows where the four models live and how transformers reads each of them, shared by
make_parity_fixtures.py, export_hf_dirs.py, inspect_models.py and bench/peer_transformers.py.
transformers dequantizes every GGUF tensor to float with the `gguf` package, un-permutes the Q/K
weights of llama-arch files (llama.cpp's converter permutes them for its interleaved rope) and
subtracts the +1 that llama.cpp stores in Gemma norm weights. Everything here runs on the CPU.

Two known gaps in transformers' GGUF reading (5.24), patched here and nowhere else:

1. tokenizer.ggml.pre = "smollm" is not in transformers' table of pre-tokenizer splits, so it falls
   back to the plain GPT-2 regex, which keeps runs of digits together ("2024" -> one piece).
   llama.cpp's "smollm" pre-tokenizer first splits every digit on its own (regex "\p{N}", then the
   GPT-2 regex), and so does SmolLM2's own tokenizer.json (Digits(individual_digits=True) before
   ByteLevel). We install that pre-tokenizer on the SmolLM2 tokenizer.

2. stories260K.gguf stores padding/separator token ids
of 4294967295 (uint32 -1, meaning "none"); transformers indexes the vocabulary with them and fails,
and would also put that id into the model config. We drop such out-of-range ids while the tokenizer
is read and set pad_token_id to None on the model config. Weights and the vocabulary are untouched.
"""
import contextlib
import hashlib
import os

import torch

MODELS_DIR = os.environ.get("STEER_MODELS_DIR", "/root/.cache/steer/models")
SHARED_DATA = os.environ.get(
    "STEER_SHARED_DATA",
    os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "shared", "data"))

MODEL_KEYS = ["smollm2-135m", "qwen2.5-coder-0.5b", "gemma3-270m", "stories260K"]


def gguf_path(key):
    if key == "stories260K":
        return os.path.normpath(os.path.join(SHARED_DATA, "tiny-models", "stories260K.gguf"))
    if key not in MODEL_KEYS:
        raise SystemExit(f"unknown model key {key!r}; known: {', '.join(MODEL_KEYS)}")
    return os.path.join(MODELS_DIR, key + ".gguf")


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


@contextlib.contextmanager
def _drop_out_of_range_special_ids():
    """While active, GGUF special-token ids >= the vocabulary size read as absent."""
    from transformers.integrations.gguf import reader

    original = reader.read_gguf_metadata

    def patched(*args, **kwargs):
        metadata, rest = original(*args, **kwargs)
        tokens = metadata.get("tokenizer.ggml.tokens")
        if tokens is not None:
            # The reader returns arrays it was not asked for in full as their length.
            n_tokens = tokens if isinstance(tokens, int) else len(tokens)
            for name in list(metadata):
                if name.startswith("tokenizer.ggml.") and name.endswith("_token_id"):
                    value = metadata[name]
                    if isinstance(value, int) and value >= n_tokens:
                        del metadata[name]
        return metadata, rest

    reader.read_gguf_metadata = patched
    try:
        yield
    finally:
        reader.read_gguf_metadata = original


def _split_digits_like_smollm(tok):
    from tokenizers import pre_tokenizers

    tok.backend_tokenizer.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Digits(individual_digits=True),
        pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=True, use_regex=True),
    ])
    return tok


def gguf_tokenizer_pre(path):
    from gguf import GGUFReader

    field = GGUFReader(path).fields.get("tokenizer.ggml.pre")
    return field.contents() if field is not None else None


def load_tokenizer(key):
    from transformers import AutoTokenizer

    path = gguf_path(key)
    with _drop_out_of_range_special_ids():
        tok = AutoTokenizer.from_pretrained(os.path.dirname(path), gguf_file=os.path.basename(path))
    if gguf_tokenizer_pre(path) == "smollm":
        tok = _split_digits_like_smollm(tok)
    return tok


def load_model(key, dtype=torch.float32, attn_implementation="eager"):
    from transformers import AutoModelForCausalLM

    path = gguf_path(key)
    extra = {}
    if key == "stories260K":
        extra["pad_token_id"] = None  # the file's 4294967295 means "no padding token"
    model = AutoModelForCausalLM.from_pretrained(
        os.path.dirname(path), gguf_file=os.path.basename(path), dtype=dtype,
        attn_implementation=attn_implementation, **extra)
    model.eval()
    return model


def load(key, dtype=torch.float32, attn_implementation="eager"):
    return load_model(key, dtype, attn_implementation), load_tokenizer(key)
