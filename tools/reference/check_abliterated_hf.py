#!/usr/bin/env python3
"""Checks `steer abliterate`'s safetensors export with Hugging Face transformers as the independent
implementation: transformers loads the exported directory, and its logits must equal those of the
ORIGINAL checkpoint with the direction ablated at runtime by forward hooks, as Arditi et al.'s code
does it (x - (x.r)r at every decoder layer's input and at the outputs of self_attn and mlp).

Two sources, both made from tests/data/hf/stories260K (llama, F32):
  untied  the directory as committed (it has lm_head.weight)
  tied    the same weights without lm_head.weight and with "tie_word_embeddings": true, so the
          export must write the original embedding as lm_head.weight and set
          tie_word_embeddings false in config.json (else transformers would tie the head to the
          orthogonalized embedding)
Direction: tests/data/abliterate/direction.safetensors. Tolerance: fp32, max |dlogit| <= 1e-4
(measured ~1e-5 with max |logit| ~17). Nothing is written into the repository.

Usage: /root/.cache/steer/venv-ref/bin/python tools/reference/check_abliterated_hf.py [path/to/steer]
"""
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file
from transformers import AutoModelForCausalLM

ROOT = Path(__file__).resolve().parents[2]
SOURCE = ROOT / "tests" / "data" / "hf" / "stories260K"
DIRECTION = ROOT / "tests" / "data" / "abliterate" / "direction.safetensors"
IDS = torch.tensor([[1, 400, 300, 20, 77, 91, 250, 13, 45, 311, 5, 60], [1, 33, 8, 500, 123, 7, 7, 90, 2, 17, 256, 3]])


def load(path):
    return AutoModelForCausalLM.from_pretrained(str(path), dtype=torch.float32, attn_implementation="eager").eval()


def ablated_logits(path, r):
    model = load(path)
    rf = r.to(torch.float32)

    def proj_out(x):
        return x - (x.double() @ r).unsqueeze(-1).to(x.dtype) * rf

    for layer in model.model.layers:
        layer.register_forward_pre_hook(lambda m, args: (proj_out(args[0]),) + tuple(args[1:]))
        layer.self_attn.register_forward_hook(lambda m, i, o: (proj_out(o[0]),) + tuple(o[1:]))
        layer.mlp.register_forward_hook(lambda m, i, o: proj_out(o))
    with torch.no_grad():
        return model(IDS).logits


def make_tied(dst):
    shutil.copytree(SOURCE, dst)
    weights = load_file(str(dst / "model.safetensors"))
    del weights["lm_head.weight"]
    save_file(weights, str(dst / "model.safetensors"), metadata={"format": "pt"})
    config = json.loads((dst / "config.json").read_text())
    config["tie_word_embeddings"] = True
    (dst / "config.json").write_text(json.dumps(config, indent=2))


def main():
    steer = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "build" / "steer"
    r = next(iter(load_file(str(DIRECTION)).values())).to(torch.float64)
    r = r / r.norm()
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        tied = Path(tmp) / "tied"
        make_tied(tied)
        for name, src in (("untied", SOURCE), ("tied", tied)):
            out = Path(tmp) / f"{name}-abliterated"
            subprocess.run([str(steer), "--quiet", "abliterate", str(src), "--direction", str(DIRECTION), "-o", str(out)],
                           check=True, stdout=subprocess.DEVNULL)
            config = json.loads((out / "config.json").read_text())
            exported = load(out)
            assert exported.lm_head.weight.data_ptr() != exported.model.embed_tokens.weight.data_ptr(), "head still tied"
            with torch.no_grad():
                got = exported(IDS).logits
                base = load(src)(IDS).logits
            want = ablated_logits(src, r)
            diff = (want - got).abs().max().item()
            moved = (want - base).abs().max().item()
            print(f"{name}: max |dlogit| runtime ablation vs export {diff:.3g} (max |logit| "
                  f"{want.abs().max().item():.3g}; ablation moved the logits by {moved:.3g}); "
                  f"tie_word_embeddings={config.get('tie_word_embeddings')}")
            ok = ok and diff <= 1e-4 and moved > 0.1
    print("OK" if ok else "FAILED")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
