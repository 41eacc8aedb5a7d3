#!/usr/bin/env python3
"""Fixtures for steer's ggml (de)quantization tests, made with gguf-py (the `gguf` package).

Writes, under tests/data/dequant/:
  blocks.json   for every type steer dequantizes: random-but-valid blocks (random bytes, with
                every f16 scale field replaced by a random finite f16) and gguf-py's floats;
                for every type gguf-py can quantize: float inputs (random blocks plus edge
                cases) and gguf-py's quantized bytes. Bytes and float32 values are hex
                (little-endian), so the C++ test compares bit for bit.
  <model>.json  for every tensor of each default model: gguf-py's dequantization summarized
                as sum, sum of |x|, sum of squares (float64) and the values at 64 fixed
                strided indices (index k*(n-1)//63 of the flattened tensor, GGUF order).

Usage (from the repository root, with the reference venv):
  /root/.cache/steer/venv-ref/bin/python tools/reference/make_dequant_fixtures.py [--models]
Without --models only blocks.json is written (seconds); with it the three default models in
$STEER_CACHE/models (default ~/.cache/steer/models) are summarized too (a few minutes).
"""
import argparse
import json
import os
import sys
from importlib.metadata import version
from pathlib import Path

import numpy as np
import gguf
from gguf import GGMLQuantizationType as T
from gguf.constants import GGML_QUANT_SIZES
from gguf.quants import dequantize, quantize

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "tests" / "data" / "dequant"
SEED = 20250101
N_BLOCKS = 16

# Byte offsets of the f16 scale fields inside one block of each type (ggml-common.h layouts).
F16_FIELDS = {
    T.Q4_0: [0], T.Q4_1: [0, 2], T.Q5_0: [0], T.Q5_1: [0, 2], T.Q8_0: [0],
    T.Q2_K: [80, 82], T.Q3_K: [108], T.Q4_K: [0, 2], T.Q5_K: [0, 2], T.Q6_K: [208],
}
DEQUANT_TYPES = [T.F32, T.F16, T.BF16, T.Q8_0, T.Q4_0, T.Q4_1, T.Q5_0, T.Q5_1,
                 T.Q2_K, T.Q3_K, T.Q4_K, T.Q5_K, T.Q6_K]
QUANT_TYPES = [T.F16, T.BF16, T.Q8_0, T.Q4_0, T.Q4_1, T.Q5_0, T.Q5_1]
DEFAULT_MODELS = ["smollm2-135m", "gemma3-270m", "qwen2.5-coder-0.5b"]


def random_finite_f16(rng, n):
    """Random f16 bit patterns with a finite value (exponent field != 31): includes subnormals."""
    bits = rng.integers(0, 1 << 16, size=n, dtype=np.uint32).astype(np.uint16)
    bad = (bits & 0x7C00) == 0x7C00
    bits[bad] &= 0xBBFF  # clear one exponent bit: finite
    return bits


def random_blocks(rng, qtype):
    block, size = GGML_QUANT_SIZES[qtype]
    n = N_BLOCKS * block
    if qtype == T.F32:
        vals = (rng.standard_normal(n) * np.exp(rng.uniform(-10, 10, n))).astype(np.float32)
        return vals.view(np.uint8), n
    if qtype == T.F16:
        return random_finite_f16(rng, n).view(np.uint8), n
    if qtype == T.BF16:
        bits = rng.integers(0, 1 << 16, size=n, dtype=np.uint32).astype(np.uint16)
        bits[(bits & 0x7F80) == 0x7F80] &= 0xBFFF  # finite
        return bits.view(np.uint8), n
    raw = rng.integers(0, 256, size=(N_BLOCKS, size), dtype=np.uint16).astype(np.uint8)
    for off in F16_FIELDS[qtype]:
        raw[:, off:off + 2] = random_finite_f16(rng, N_BLOCKS).view(np.uint8).reshape(N_BLOCKS, 2)
    # Tame half the blocks' scales to a realistic range so products stay ordinary numbers.
    for b in range(0, N_BLOCKS, 2):
        for off in F16_FIELDS[qtype]:
            raw[b, off:off + 2] = np.array([rng.uniform(-0.1, 0.1)], dtype=np.float16).view(np.uint8)
    return raw.reshape(-1), n


def quant_inputs(rng, qtype):
    block, _ = GGML_QUANT_SIZES[qtype]
    if qtype in (T.F16, T.BF16):
        edge = [0.0, -0.0, 1.0, -1.0, 65504.0, 65519.0, 65519.996, 65520.0, -65520.0, 1e30, -1e30,
                float("inf"), float("-inf"), 2.0 ** -24, 2.0 ** -25, 3 * 2.0 ** -26, 2.0 ** -26,
                2.0 ** -14, 2.0 ** -14 - 2.0 ** -25, 1.0 + 2.0 ** -11, 1.0 + 3 * 2.0 ** -11,
                1.0 + 2.0 ** -8, 1.0 + 3 * 2.0 ** -8, 1e-45, 3.4e38, 6.1e-5, 1e-8]
        rand = rng.standard_normal(4096 - len(edge)) * np.exp(rng.uniform(-25, 15, 4096 - len(edge)))
        bits = rng.integers(0, 1 << 32, size=1024, dtype=np.uint64).astype(np.uint32)
        bits = bits[(bits & 0x7F800000) != 0x7F800000]  # no NaN/inf from random bits
        vals = np.concatenate([np.array(edge), rand]).astype(np.float32)
        return np.concatenate([vals, bits.view(np.float32)])
    blocks = []
    for b in range(N_BLOCKS):
        kind = b % 8
        if kind == 0:
            x = np.zeros(block)
        elif kind == 1:
            x = np.full(block, rng.uniform(-3, 3))
        elif kind == 2:
            x = rng.standard_normal(block) * 0.02
            x[rng.integers(block)] = 1.5  # one outlier
        elif kind == 3:
            x = -np.abs(rng.standard_normal(block))
        elif kind == 4:
            x = rng.standard_normal(block) * 1e-6
        elif kind == 5:
            x = np.round(rng.standard_normal(block) * 8) / 8  # many ties
        else:
            x = rng.standard_normal(block) * np.exp(rng.uniform(-5, 3))
        blocks.append(x)
    return np.concatenate(blocks).astype(np.float32)


def hexs(a):
    return np.ascontiguousarray(a).tobytes().hex()


def make_blocks():
    rng = np.random.default_rng(SEED)
    out = {
        "made_by": "tools/reference/make_dequant_fixtures.py",
        "gguf_version": version("gguf"),
        "numpy_version": np.__version__,
        "seed": SEED,
        "dequant": {},
        "quant": {},
    }
    for qtype in DEQUANT_TYPES:
        raw, n = random_blocks(rng, qtype)
        vals = dequantize(raw, qtype).astype(np.float32).reshape(-1)
        assert vals.size == n, (qtype, vals.size, n)
        out["dequant"][qtype.name] = {"n": n, "bytes": hexs(raw), "values": hexs(vals)}
    for qtype in QUANT_TYPES:
        x = quant_inputs(rng, qtype)
        with np.errstate(over="ignore"):  # 1e30 -> inf is one of the cases
            q = quantize(x, qtype)
        qb = np.ascontiguousarray(q).view(np.uint8).reshape(-1)
        out["quant"][qtype.name] = {"n": int(x.size), "input": hexs(x), "bytes": hexs(qb)}
    path = OUT / "blocks.json"
    path.write_text(json.dumps(out, indent=1) + "\n")
    print(f"wrote {path} ({path.stat().st_size} bytes)")


def summarize_model(key, models_dir):
    path = models_dir / f"{key}.gguf"
    reader = gguf.GGUFReader(str(path))
    tensors = []
    for t in reader.tensors:
        vals = dequantize(t.data, t.tensor_type).astype(np.float32).reshape(-1)
        n = vals.size
        v64 = vals.astype(np.float64)
        idx = [k * (n - 1) // 63 for k in range(64)] if n > 1 else [0] * 64
        tensors.append({
            "name": t.name,
            "type": t.tensor_type.name,
            "ne": [int(d) for d in t.shape],  # GGUFReader's shape is GGUF order (ne[0] first)
            "n": int(n),
            "sum": float(v64.sum()),
            "sum_abs": float(np.abs(v64).sum()),
            "sum_sq": float((v64 * v64).sum()),
            "samples": [float(vals[i]) for i in idx],
        })
    out = {"made_by": "tools/reference/make_dequant_fixtures.py --models", "gguf_version": version("gguf"),
           "numpy_version": np.__version__, "model": key, "file_size": path.stat().st_size,
           "sample_rule": "index k*(n-1)//63 for k in 0..63 of the flattened tensor", "tensors": tensors}
    dest = OUT / f"{key}.json"
    dest.write_text(json.dumps(out, indent=0) + "\n")
    print(f"wrote {dest} ({dest.stat().st_size} bytes, {len(tensors)} tensors)")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", action="store_true", help="also summarize the default models")
    args = ap.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    make_blocks()
    if args.models:
        cache = Path(os.environ.get("STEER_CACHE", Path.home() / ".cache" / "steer"))
        for key in DEFAULT_MODELS:
            summarize_model(key, cache / "models")


if __name__ == "__main__":
    sys.exit(main())
