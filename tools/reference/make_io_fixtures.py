#!/usr/bin/env python3
"""Small reference files for steer's GGUF and safetensors tests, written by the reference
Python packages (gguf-py's GGUFWriter, the `safetensors` package).

Writes:
  tests/data/gguf/writer_reference.gguf          every metadata value type, nested arrays,
                                                 F32/F16/Q8_0/I32 tensors (default alignment)
  tests/data/gguf/writer_reference_align64.gguf  the same with general.alignment = 64
  tests/data/safetensors/reference.safetensors   11 tensors of 10 dtypes (incl. a scalar and
                                                 an empty tensor), one metadata key
  tests/data/safetensors/sharded/                two shards + model.safetensors.index.json

The C++ tests (tests/unit/base/test_gguf_writer.cc, test_safetensors.cc) rebuild the same
content with steer's writers and require byte-identical files, so the content here and
there must stay in step: change both or neither.

Usage: /root/.cache/steer/venv-ref/bin/python tools/reference/make_io_fixtures.py
"""
import json
from pathlib import Path

import numpy as np
import torch
from gguf import GGUFWriter, GGUFValueType, GGMLQuantizationType
from gguf.quants import quantize
from safetensors.torch import save_file

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data"


def write_gguf(path, alignment=None):
    w = GGUFWriter(str(path), arch="steer-test")  # general.architecture comes first
    if alignment is not None:
        w.add_custom_alignment(alignment)
    w.add_uint8("t.u8", 200)
    w.add_int8("t.i8", -100)
    w.add_uint16("t.u16", 60000)
    w.add_int16("t.i16", -30000)
    w.add_uint32("t.u32", 4000000000)
    w.add_int32("t.i32", -2000000000)
    w.add_float32("t.f32", 0.1)
    w.add_uint64("t.u64", 2**63 + 5)
    w.add_int64("t.i64", -(2**62))
    w.add_float64("t.f64", 3.141592653589793)
    w.add_bool("t.bool", True)
    w.add_string("t.string", "h\u00e9llo\nworld")
    w.add_array("t.strings", ["a", "", "\u00fc"])
    w.add_array("t.ints", [1, -2, 3])  # INT32
    w.add_array("t.floats", [0.5, -1.25])  # FLOAT32
    w.add_array("t.bools", [True, False, True])
    w.add_key_value("t.u64s", [1, 2**64 - 1], GGUFValueType.ARRAY, sub_type=GGUFValueType.UINT64)
    w.add_key_value("t.f64s", [1e300, -2.5], GGUFValueType.ARRAY, sub_type=GGUFValueType.FLOAT64)
    w.add_key_value("t.u8s", [0, 255], GGUFValueType.ARRAY, sub_type=GGUFValueType.UINT8)
    w.add_array("t.nested", [[1, 2], [3]])  # ARRAY of ARRAY of INT32

    w.add_tensor("w.f32", (np.arange(15, dtype=np.float32) * 0.25 - 1).reshape(3, 5))  # ne = [5, 3]
    w.add_tensor("w.f16", np.array([1, -2, 0.5, 65504, 1e-7, 3, 4], dtype=np.float16))  # 14 bytes: padded
    q = quantize((np.arange(64, dtype=np.float32) / 10 - 3).reshape(2, 32), GGMLQuantizationType.Q8_0)
    w.add_tensor("w.q8_0", q, raw_dtype=GGMLQuantizationType.Q8_0)  # ne = [32, 2]
    w.add_tensor("w.i32", np.array([7, -8, 9], dtype=np.int32))

    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    print(f"wrote {path} ({path.stat().st_size} bytes)")


def reference_tensors():
    return {
        "a.f32": torch.arange(6, dtype=torch.float32).reshape(2, 3) * 0.5 - 1,
        "b.f16": torch.tensor([1.0, -2.5, 65504.0, 6e-8], dtype=torch.float16),
        "c.bf16": torch.tensor([1.0, -3.0, 1e30, 0.1], dtype=torch.bfloat16),
        "d.i64": torch.tensor([-1, 2**40], dtype=torch.int64),
        "e.i32": torch.tensor([[1, -2], [3, -4]], dtype=torch.int32),
        "f.u8": torch.tensor([0, 255, 7], dtype=torch.uint8),
        "g.bool": torch.tensor([True, False, True]),
        "h.f64": torch.tensor([3.5], dtype=torch.float64),
        "i.i8": torch.tensor([-128, 127], dtype=torch.int8),
        "j.scalar": torch.tensor(2.0),
        "k.empty": torch.zeros(0, 3),
    }


def write_safetensors():
    path = DATA / "safetensors" / "reference.safetensors"
    save_file(reference_tensors(), str(path), metadata={"format": "pt"})
    print(f"wrote {path} ({path.stat().st_size} bytes)")

    shard_dir = DATA / "safetensors" / "sharded"
    shard_dir.mkdir(parents=True, exist_ok=True)
    shards = {
        "model-00001-of-00002.safetensors": {
            "model.embed_tokens.weight": torch.arange(12, dtype=torch.float32).reshape(4, 3),
            "model.layers.0.mlp.up_proj.weight": torch.ones(2, 3, dtype=torch.bfloat16),
        },
        "model-00002-of-00002.safetensors": {
            "model.norm.weight": torch.tensor([1.0, 2.0, 3.0], dtype=torch.float16),
        },
    }
    weight_map, total = {}, 0
    for name, tensors in shards.items():
        save_file(tensors, str(shard_dir / name), metadata={"format": "pt"})
        for k, t in tensors.items():
            weight_map[k] = name
            total += t.numel() * t.element_size()
    index = {"metadata": {"total_size": total}, "weight_map": dict(sorted(weight_map.items()))}
    (shard_dir / "model.safetensors.index.json").write_text(json.dumps(index, indent=2) + "\n")
    print(f"wrote {shard_dir}/ (2 shards + index)")


if __name__ == "__main__":
    (DATA / "gguf").mkdir(parents=True, exist_ok=True)
    write_gguf(DATA / "gguf" / "writer_reference.gguf")
    write_gguf(DATA / "gguf" / "writer_reference_align64.gguf", alignment=64)
    write_safetensors()
