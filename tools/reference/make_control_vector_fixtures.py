#!/usr/bin/env python3
"""Control-vector GGUF fixtures for steer's vector-file tests (tests/unit/engine/test_vector_files.cc),
both ways, with gguf-py (the `gguf` package) as the independent reader/writer.

1. Foreign files, written the way the other tools write them:
     repeng.gguf     as repeng's ControlVector.export_gguf: GGUFWriter(path, "controlvector"),
                     add_string("controlvector.model_hint", model_type), add_uint32(
                     "controlvector.layer_count", len(directions)), add_tensor(f"direction.{layer}",
                     float32 array) for each layer of its dict (here 1, 2, 5; d = 16)
     cvector.gguf    as llama.cpp's cvector-generator: the same keys but layer_count INT32 and
                     tensors direction.1 .. direction.(n_layers-1) (here 1..3)
     minimal.gguf    only the direction tensors (2, 4): no general.architecture, no model_hint,
                     no layer_count — llama.cpp's loader reads nothing but the tensors
   and foreign_expected.json: per file, every key (name, gguf-py type, value) and every tensor
   (name, type, shape, values as exact doubles), as gguf-py reads them back.

2. The reverse: tests/data/directions/steer_written.gguf is written by steer's C++ writer (run
   `STEER_WRITE_FIXTURES=1 build/tests/unit_engine_tests --gtest_filter='VectorFiles.WriterMatchesGgufPyExpectations'`
   first); this script reads it with gguf-py, checks it the way llama.cpp's
   common_control_vector_load_one and repeng's import_gguf would (names direction.N with N >= 1,
   F32, 1-D, equal lengths; model_hint present), and records what it read in
   steer_written.expected.json, which the C++ test compares with what it writes.

Usage: /root/.cache/steer/venv-ref/bin/python tools/reference/make_control_vector_fixtures.py
"""
import json
from pathlib import Path

import numpy as np
from gguf import GGUFReader, GGUFWriter

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "tests" / "data" / "directions"
D = 16


def vector(layer, d=D):
    # Deterministic float32 values with non-trivial bit patterns.
    i = np.arange(d, dtype=np.float64)
    return (np.sin(0.37 * i + layer) * (1.0 + layer / 7.0)).astype(np.float32)


def write(path, keys, layers, with_arch=True):
    w = GGUFWriter(str(path), arch="controlvector") if with_arch else GGUFWriter(str(path), arch="")
    if not with_arch:
        # GGUFWriter always adds general.architecture; drop it to mimic a bare file.
        for shard in w.kv_data:
            shard.pop("general.architecture", None)
    for kind, name, value in keys:
        getattr(w, "add_" + kind)(name, value)
    for layer in layers:
        w.add_tensor(f"direction.{layer}", vector(layer))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def describe(path):
    r = GGUFReader(str(path))
    fields = []
    for name, f in r.fields.items():
        if name.startswith("GGUF."):
            continue
        value = f.contents()
        fields.append({"name": name, "type": f.types[0].name, "value": value})
    tensors = []
    for t in r.tensors:
        tensors.append({
            "name": t.name,
            "type": t.tensor_type.name,
            "shape": [int(s) for s in t.shape],  # gguf-py order: ne[0] first
            "values": [float(v) for v in np.asarray(t.data, dtype=np.float32)],
        })
    return {"fields": fields, "tensors": tensors}


def check_like_llama_cpp(path, desc):
    """The rules of llama.cpp's common_control_vector_load_one and repeng's import_gguf."""
    names = [f["name"] for f in desc["fields"]]
    assert "controlvector.model_hint" in names, "repeng's import_gguf needs model_hint"
    n_embd = None
    for t in desc["tensors"]:
        prefix, _, idx = t["name"].partition(".")
        assert prefix == "direction" and idx.isdigit(), t["name"]
        assert int(idx) >= 1, "llama.cpp refuses direction.0"
        assert t["type"] == "F32", t
        assert len(t["shape"]) == 1, t
        assert n_embd in (None, t["shape"][0]), "direction tensors of different lengths"
        n_embd = t["shape"][0]
    print(f"{path.name}: loads in llama.cpp and repeng ({len(desc['tensors'])} directions, n_embd {n_embd})")


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    write(OUT / "repeng.gguf",
          [("string", "controlvector.model_hint", "llama"), ("uint32", "controlvector.layer_count", 3)],
          [1, 2, 5])
    write(OUT / "cvector.gguf",
          [("string", "controlvector.model_hint", "llama"), ("int32", "controlvector.layer_count", 3)],
          [1, 2, 3])
    write(OUT / "minimal.gguf", [], [2, 4], with_arch=False)
    expected = {name: describe(OUT / name) for name in ("repeng.gguf", "cvector.gguf", "minimal.gguf")}
    (OUT / "foreign_expected.json").write_text(json.dumps(expected, indent=1) + "\n")
    print("wrote foreign fixtures and foreign_expected.json")

    ours = OUT / "steer_written.gguf"
    if not ours.exists():
        print(f"{ours} is missing: run the C++ test with STEER_WRITE_FIXTURES=1 first (see the docstring)")
        return
    desc = describe(ours)
    check_like_llama_cpp(ours, desc)
    (OUT / "steer_written.expected.json").write_text(json.dumps(desc, indent=1) + "\n")
    print("wrote steer_written.expected.json")


if __name__ == "__main__":
    main()
