#!/usr/bin/env python3
"""gguf-py's view of an abliterated model written by steer, for
tests/unit/engine/test_abliterate.cc (Abliterate.MatchesWhatGgufPyReads).

Runs `steer abliterate` on the tiny model (stories260K) with the committed direction
tests/data/abliterate/direction.safetensors (one fixed vector at layer 2; written by
`STEER_WRITE_FIXTURES=1 build/tests/unit_engine_tests --gtest_filter='Abliterate.MatchesWhatGgufPyReads'`),
reads the result with gguf-py (the `gguf` package) as an independent reader, checks what llama.cpp
needs of it (every source tensor present with its shape, the head untied or kept, modified tensors
F32), and records in tests/data/abliterate/expected.json:
  fields   every key in file order: name, gguf-py type, and the value (scalars) or the element type
           and length (arrays)
  tensors  every tensor in file order: name, type, shape (gguf-py order: ne[0] first) and the sha256
           of its data bytes as gguf-py maps them
The C++ test writes the same file with the library and compares.

Usage: /root/.cache/steer/venv-ref/bin/python tools/reference/make_abliterate_fixture.py [path/to/steer]
"""
import hashlib
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from gguf import GGUFReader, GGUFValueType

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "tests" / "data" / "abliterate"
TINY = ROOT.parent / "shared" / "data" / "tiny-models" / "stories260K.gguf"
MODIFIED = ("token_embd.weight", ".attn_output.", ".ffn_down.")


def describe(path):
    r = GGUFReader(str(path))
    fields = []
    for name, f in r.fields.items():
        if name.startswith("GGUF."):
            continue
        entry = {"name": name, "type": f.types[0].name}
        if f.types[0] == GGUFValueType.ARRAY:
            entry["element_type"] = f.types[-1].name
            entry["length"] = len(f.data)
        else:
            entry["value"] = f.contents()
        fields.append(entry)
    tensors = []
    for t in r.tensors:
        data = np.ascontiguousarray(t.data)
        tensors.append({
            "name": t.name,
            "type": t.tensor_type.name,
            "shape": [int(s) for s in t.shape],
            "sha256": hashlib.sha256(data.tobytes()).hexdigest(),
        })
    return {"fields": fields, "tensors": tensors}


def check(source, desc):
    src = {t.name: t for t in GGUFReader(str(source)).tensors}
    ours = {t["name"]: t for t in desc["tensors"]}
    for name, t in src.items():
        assert name in ours, f"{name} missing"
        assert ours[name]["shape"] == [int(s) for s in t.shape], name
        if any(m in name for m in MODIFIED):
            assert ours[name]["type"] == "F32", name
        else:
            digest = hashlib.sha256(np.ascontiguousarray(t.data).tobytes()).hexdigest()
            assert ours[name]["sha256"] == digest, f"{name} changed"
    assert "output.weight" in ours, "llama.cpp needs an LM head"
    keys = {f["name"]: f for f in desc["fields"]}
    for k in ("steer.abliterate.version", "steer.abliterate.direction_sha256", "steer.abliterate.source"):
        assert k in keys, k
    print(f"{len(ours)} tensors, {len(keys)} keys; untouched tensors byte-identical to the source")


def main():
    steer = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "build" / "steer"
    direction = OUT / "direction.safetensors"
    if not direction.exists():
        sys.exit(f"{direction} is missing: run the C++ test with STEER_WRITE_FIXTURES=1 first (see the docstring)")
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "stories260K-abliterated.gguf"
        subprocess.run([str(steer), "--quiet", "abliterate", str(TINY), "--direction", str(direction), "-o", str(out)],
                       check=True)
        desc = describe(out)
    check(TINY, desc)
    (OUT / "expected.json").write_text(json.dumps(desc, indent=1) + "\n")
    print(f"wrote {OUT / 'expected.json'}")


if __name__ == "__main__":
    main()
