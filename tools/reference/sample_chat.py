"""Greedy answers of each default model to a few chat-formatted questions (for docs/models.md).

The point is to say honestly which models behave as instruction-tuned chat models. Each question
is rendered with the model's chat template (Gemma: the Gemma turn format, since its GGUF has no
template), run greedily for 48 new tokens in float32, and printed with special tokens visible.
Generation stops at the model's EOS or end-of-turn token.

Usage: /root/.cache/steer/venv-ref/bin/python tools/reference/sample_chat.py [KEY ...]
"""
import argparse
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ref_models  # noqa: E402
from make_parity_fixtures import render_prompt  # noqa: E402

QUESTIONS = [
    "What is the capital of France?",
    "Give me three tips for sleeping better.",
    "Write a Python function that returns the square of a number.",
]
STOP = {"smollm2-135m": ["<|im_end|>"], "qwen2.5-coder-0.5b": ["<|im_end|>", "<|endoftext|>"],
        "gemma3-270m": ["<end_of_turn>", "<eos>"]}


@torch.no_grad()
def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("keys", nargs="*", default=["smollm2-135m", "qwen2.5-coder-0.5b", "gemma3-270m"])
    args = parser.parse_args()
    torch.manual_seed(0)
    for key in args.keys:
        model, tok = ref_models.load(key)
        stop = [tok.convert_tokens_to_ids(t) for t in STOP[key]]
        print(f"== {key}")
        for q in QUESTIONS:
            _, ids = render_prompt(tok, key, "chat", [{"role": "user", "content": q}])
            out = model.generate(torch.tensor([ids]), max_new_tokens=48, do_sample=False,
                                 eos_token_id=stop, pad_token_id=stop[0])
            text = tok.decode(out[0, len(ids):], skip_special_tokens=False)
            print(f"Q: {q}\nA: {text!r}\n")


if __name__ == "__main__":
    main()
