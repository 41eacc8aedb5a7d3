"""Capture throughput, the transformers side (the way the refusal-direction paper's code does it):
forward pre-hooks on every decoder layer read the block input (hook_resid_pre) at the last 5
positions and add it into float64 running sums; prompts left-padded in batches of 32, forward
without the LM head's logits being used. Inputs: the token ids bench_capture wrote
(bench/capture_ids_smollm2.json), so both sides see identical tokens.

Usage: python bench/peer_capture.py [--dtype float32|bfloat16] [--ids FILE]; prints one JSON object.
"""
import argparse
import json
import os
import resource
import sys
import time

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tools", "reference"))
import ref_models  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dtype", default="float32", choices=["float32", "bfloat16"])
    ap.add_argument("--ids", default=os.path.join(HERE, "capture_ids_smollm2.json"))
    ap.add_argument("--batch", type=int, default=32)
    args = ap.parse_args()
    torch.set_num_threads(2)
    ids = json.load(open(args.ids))["ids"]
    dtype = {"float32": torch.float32, "bfloat16": torch.bfloat16}[args.dtype]
    model = ref_models.load_model("smollm2-135m", dtype=dtype, attn_implementation="sdpa")
    layers = model.model.layers
    n_pos = 5
    sums = torch.zeros(len(layers), n_pos, model.config.hidden_size, dtype=torch.float64)

    def hook_for(layer):
        def pre_hook(module, args_, kwargs=None):
            x = args_[0] if args_ else kwargs["hidden_states"]
            sums[layer] += x[:, -n_pos:, :].to(torch.float64).sum(0)
        return pre_hook

    for i, layer in enumerate(layers):
        layer.register_forward_pre_hook(hook_for(i), with_kwargs=True)

    def run(rows):
        for b in range(0, len(rows), args.batch):
            chunk = rows[b:b + args.batch]
            T = max(len(r) for r in chunk)
            input_ids = torch.tensor([[0] * (T - len(r)) + r for r in chunk])
            mask = torch.tensor([[0] * (T - len(r)) + [1] * len(r) for r in chunk])
            with torch.inference_mode():
                model.model(input_ids=input_ids, attention_mask=mask)  # no LM head, as steer's capture

    run(ids[:args.batch])  # warm-up
    t0 = time.perf_counter()
    run(ids)
    s = time.perf_counter() - t0
    print(json.dumps({"engine": "transformers", "dtype": args.dtype, "prompts": len(ids), "seconds": s,
                      "prompts_per_s": len(ids) / s,
                      "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


if __name__ == "__main__":
    main()
