#!/usr/bin/env python3
"""Reference token ids and chat renderings for the three default models, from Hugging Face.

For each default model the tokenizer is built by transformers from the GGUF file itself
(`AutoTokenizer.from_pretrained(dir, gguf_file=name)`), and ~40 varied strings are tokenized
with and without special tokens, then decoded back. For SmolLM2 and Qwen2.5 a few conversations
are rendered with the model's own chat template (`apply_chat_template`, generation prompt on)
as text and as ids.

One correction, recorded in the fixture: transformers' GGUF tokenizer builder has no entry for
`tokenizer.ggml.pre = "smollm"` and so splits SmolLM2 text with GPT-2's regex only. The
original SmolLM2 tokenizer.json (like StarCoder's) isolates every digit first
(pre_tokenizer Sequence[Digits(individual_digits=True), ByteLevel]); llama.cpp does the same
for "smollm". The fixture uses that pre-tokenizer, so it is the original model's tokenization.

Writes tests/data/tokenizer/<model>.json, and the HF tokenizer files of a model (tokenizer.json,
tokenizer_config.json, chat_template.jinja) into tests/data/tokenizer/hf/<model>/ when
tokenizer.json is under 4 MB (only SmolLM2's is; Qwen's is ~7 MB, Gemma's ~33 MB).

Two small extras for the unit tests (no default model needed):
  - tests/data/tokenizer/stories260K.json: the tiny llama2.c model's SentencePiece vocabulary
    (../shared/data/tiny-models/stories260K.gguf), same calls as above;
  - tests/data/tokenizer/hf/bytefallback-bpe/: a tiny SentencePiece-style BPE (byte_fallback,
    "▁" for spaces, Prepend normalizer) trained here with `tokenizers` on a few sentences, and
    bytefallback-bpe.json with its ids for strings that need merges and byte fallback.

Usage: make_tokenizer_fixtures.py [--models-dir ~/.cache/steer/models]
Needs: transformers (5.x), tokenizers, gguf, sentencepiece.
"""
import argparse
import json
import os
import shutil
import tempfile

import tokenizers
import transformers
from tokenizers import pre_tokenizers
from transformers import AutoTokenizer

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.abspath(os.path.join(HERE, "..", "..", "tests", "data", "tokenizer"))

MODELS = {
    "smollm2-135m": "smollm2-135m.gguf",
    "qwen2.5-coder-0.5b": "qwen2.5-coder-0.5b.gguf",
    "gemma3-270m": "gemma3-270m.gguf",
}

TEXTS = [
    "Hello world",
    "Hello, world! How are you today?",
    " leading space",
    "  two leading spaces",
    "trailing spaces   ",
    "The quick brown fox jumps over the lazy dog.",
    "I'm sure they'll say it's fine, don't you think? We've seen it. I'D LIKE IT'S",
    "def fib(n):\n    if n < 2:\n        return n\n    return fib(n - 1) + fib(n - 2)\n",
    "for (int i = 0; i < 10; ++i) { printf(\"%d\\n\", i); }",
    "x = [1, 2, 3]; y = {'a': 1, \"b\": 2.5e-3}",
    "Numbers: 0 7 42 123 4567 1234567890 3.14159 1,000,000 -12",
    "Version 2.10.3 released on 2024-11-28 at 09:30.",
    "tabs\tand\nnewlines\r\nmixed\n\n\nend",
    "     many     spaces     between     ",
    "\n\n\n\n",
    "\t\t\tindent",
    "Café naïve résumé façade Ångström",
    "Straße, Größe, Äpfel, Öl, Übermut",
    "Привет, как дела? Україна",
    "你好，世界！这是一个测试。",
    "日本語のテキストとカタカナ",
    "한국어 텍스트입니다",
    "مرحبا بالعالم",
    "שלום עולם",
    "Emoji: 😀👍🏽🇺🇸 ❤️ 🤖🚀",
    "Math: ∑ x² ≤ ∞, α+β=γ, √2 ≈ 1.414",
    "zero\u200bwidth and no\u00a0break space",
    "Mixed: abc123def 456ghi",
    "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n",
    "<|endoftext|>text after end",
    "<start_of_turn>user\nHello<end_of_turn>\n<start_of_turn>model\n",
    "<bos>Text with a bos in it",
    "Tags <tool_call> and </tool_call> in text",
    "HTML <table><tr><td>cell</td></tr></table>",
    "<s> [INST] Hello [/INST]",
    "a",
    "",
    " ",
    "!!!???...---",
    "URL: https://example.com/path?query=1&b=2#frag",
    "email@example.com, @user #hashtag $100 50% ^caret~",
    "camelCaseIdentifier snake_case_identifier SCREAMING_CASE",
    "Long word: Pneumonoultramicroscopicsilicovolcanoconiosis",
    "Repeated: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
]

CONVERSATIONS = [
    [{"role": "user", "content": "What is the capital of France?"}],
    [{"role": "system", "content": "You are a pirate."}, {"role": "user", "content": "Say hello."}],
    [
        {"role": "user", "content": "Hi!"},
        {"role": "assistant", "content": "Hello! How can I help?"},
        {"role": "user", "content": "Write a haiku about the sea.\nKeep it short."},
    ],
    [
        {"role": "system", "content": "Answer briefly."},
        {"role": "user", "content": "2+2?"},
        {"role": "assistant", "content": "4"},
        {"role": "user", "content": "And 3+3?"},
    ],
    [{"role": "user", "content": "  Spaces and <|im_end|> inside the message  "}],
]


def load(models_dir, key):
    tok = AutoTokenizer.from_pretrained(models_dir, gguf_file=MODELS[key])
    note = "AutoTokenizer.from_pretrained(models_dir, gguf_file=%r)" % MODELS[key]
    if key == "smollm2-135m":
        tok.backend_tokenizer.pre_tokenizer = pre_tokenizers.Sequence([
            pre_tokenizers.Digits(individual_digits=True),
            pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=True, use_regex=True),
        ])
        note += ("; pre_tokenizer replaced by Sequence[Digits(individual_digits=True), ByteLevel("
                 "add_prefix_space=False, use_regex=True)] as in the original SmolLM2 tokenizer.json "
                 "(transformers has no GGUF mapping for pre='smollm' and falls back to GPT-2's regex)")
    return tok, note


def ids_of(x):
    if isinstance(x, dict) or hasattr(x, "keys"):
        x = x["input_ids"]
    return [int(i) for i in x]


SMALL_TEXTS = [
    "Once upon a time, there was a little girl named Lily.",
    "She liked to play outside in the park with her dog.",
    " leading space and  double  spaces",
    "Numbers 123 and symbols #@! and ünïcödé 😀",
    "line one\nline two\ttab",
    "",
    "a",
]


def case_entries(tok, texts):
    cases = []
    for text in texts:
        plain = ids_of(tok(text, add_special_tokens=False))
        cases.append({
            "text": text,
            "ids": plain,
            "ids_add_special": ids_of(tok(text, add_special_tokens=True)),
            "decoded": tok.decode(plain, skip_special_tokens=False),
            "decoded_skip_special": tok.decode(plain, skip_special_tokens=True),
        })
    return cases


def write_json(name, data):
    with open(os.path.join(OUT, name), "w", encoding="utf-8") as f:
        json.dump(data, f, ensure_ascii=False, indent=1)


def make_small_fixtures():
    # The tiny real model's SentencePiece vocabulary. AutoTokenizer cannot load this file (its
    # padding/separator ids are 0xFFFFFFFF, "none" in llama.cpp, and transformers indexes the
    # vocabulary with them), so the same transformers builder is called on the file's tokens
    # and scores directly.
    from gguf import GGUFReader
    from transformers.integrations.gguf.gguf_tokenizer_mapping import (
        add_gguf_special_tokens, sentencepiece_tokenizer)
    tiny = os.path.abspath(os.path.join(HERE, "..", "..", "..", "shared", "data", "tiny-models"))
    reader = GGUFReader(os.path.join(tiny, "stories260K.gguf"))
    field = lambda k: reader.fields["tokenizer.ggml." + k].contents()
    tokenizer_dict = {"tokenizer_type": "llama", "tokens": field("tokens"), "scores": field("scores"),
                      "token_type": field("token_type")}
    tok = add_gguf_special_tokens(sentencepiece_tokenizer(tokenizer_dict), tokenizer_dict)
    tok.bos_token, tok.eos_token, tok.unk_token = "<s>", "</s>", "<unk>"
    tok.add_bos_token = True  # llama.cpp's default for SentencePiece vocabularies (the file has no flag)
    write_json("stories260K.json", {
        "model": "stories260K",
        "reference": "transformers sentencepiece_tokenizer + add_gguf_special_tokens (the GGUF builder "
                     "behind AutoTokenizer, which fails on this file's 0xFFFFFFFF padding id) on "
                     "stories260K.gguf's tokens/scores/types; bos <s>, add_bos_token True",
        "versions": {"transformers": transformers.__version__, "tokenizers": tokenizers.__version__},
        "bos_id": tok.bos_token_id, "eos_id": tok.eos_token_id,
        "cases": case_entries(tok, SMALL_TEXTS),
    })
    # A SentencePiece-style BPE with byte fallback, trained on a few sentences.
    from tokenizers import Tokenizer, decoders, models, normalizers, trainers
    # Train merges on a few sentences, then lay the vocabulary out as Llama's tokenizer.json
    # does: <unk> <s> </s>, the 256 byte tokens <0x00>..<0xFF>, then the learned pieces.
    normalizer = normalizers.Sequence([normalizers.Prepend("\u2581"), normalizers.Replace(" ", "\u2581")])
    trained = Tokenizer(models.BPE(unk_token="<unk>"))
    trained.normalizer = normalizer
    corpus = SMALL_TEXTS[:2] * 20 + ["the cat sat on the mat", "the dog ate the bone", "hello world"] * 20
    trained.train_from_iterator(corpus, trainers.BpeTrainer(vocab_size=150, special_tokens=["<unk>"],
                                                           show_progress=False))
    learned = json.loads(trained.to_str())["model"]
    vocab = {"<unk>": 0, "<s>": 1, "</s>": 2}
    for b in range(256):
        vocab["<0x%02X>" % b] = len(vocab)
    for piece, _ in sorted(learned["vocab"].items(), key=lambda kv: kv[1]):
        if piece not in vocab:
            vocab[piece] = len(vocab)
    merges = [tuple(m) if isinstance(m, list) else tuple(m.split(" ")) for m in learned["merges"]]
    bpe = Tokenizer(models.BPE(vocab=vocab, merges=merges, byte_fallback=True, unk_token="<unk>", fuse_unk=True))
    bpe.normalizer = normalizer
    bpe.decoder = decoders.Sequence([decoders.Replace("\u2581", " "), decoders.ByteFallback(),
                                     decoders.Fuse(), decoders.Strip(" ", 1, 0)])
    bpe.add_special_tokens([tokenizers.AddedToken(t, special=True, normalized=False) for t in ("<unk>", "<s>", "</s>")])
    bpe.add_tokens([tokenizers.AddedToken("<tool>", special=False, normalized=False)])
    dest = os.path.join(OUT, "hf", "bytefallback-bpe")
    os.makedirs(dest, exist_ok=True)
    bpe.save(os.path.join(dest, "tokenizer.json"))
    with open(os.path.join(dest, "tokenizer_config.json"), "w") as f:
        json.dump({"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>", "add_bos_token": True,
                   "add_eos_token": False}, f, indent=1)
    texts = SMALL_TEXTS + ["the cat ate the dog", "zebra quixotic", "<tool>call</s> after", "Ω≈ç√"]
    cases = []
    for text in texts:
        enc = bpe.encode(text, add_special_tokens=False)
        cases.append({"text": text, "ids": enc.ids,
                      "decoded": bpe.decode(enc.ids, skip_special_tokens=False)})
    write_json("bytefallback-bpe.json", {
        "model": "bytefallback-bpe",
        "reference": "tokenizers.Tokenizer trained in make_tokenizer_fixtures.py; tok.encode(text, "
                     "add_special_tokens=False).ids, tok.decode(ids, skip_special_tokens=False)",
        "versions": {"tokenizers": tokenizers.__version__},
        "cases": cases,
    })
    print("small fixtures written")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--models-dir", default=os.path.expanduser("~/.cache/steer/models"))
    ap.add_argument("--small-only", action="store_true", help="only the unit-test fixtures")
    args = ap.parse_args()
    os.makedirs(OUT, exist_ok=True)
    make_small_fixtures()
    if args.small_only:
        return
    for key in MODELS:
        tok, note = load(args.models_dir, key)
        cases = []
        for text in TEXTS:
            plain = ids_of(tok(text, add_special_tokens=False))
            special = ids_of(tok(text, add_special_tokens=True))
            cases.append({
                "text": text,
                "ids": plain,
                "ids_add_special": special,
                "decoded": tok.decode(plain, skip_special_tokens=False),
                "decoded_skip_special": tok.decode(plain, skip_special_tokens=True),
            })
        fixture = {
            "model": key,
            "gguf": MODELS[key],
            "reference": note,
            "versions": {"transformers": transformers.__version__, "tokenizers": tokenizers.__version__},
            "calls": {
                "ids": "tok(text, add_special_tokens=False)['input_ids']",
                "ids_add_special": "tok(text, add_special_tokens=True)['input_ids']",
                "decoded": "tok.decode(ids, skip_special_tokens=False)",
                "decoded_skip_special": "tok.decode(ids, skip_special_tokens=True)",
                "chat.text": "tok.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)",
                "chat.ids": "tok.apply_chat_template(messages, add_generation_prompt=True, tokenize=True)",
            },
            "bos_id": tok.bos_token_id,
            "eos_id": tok.eos_token_id,
            "cases": cases,
            "chat": [],
        }
        if tok.chat_template:
            for messages in CONVERSATIONS:
                text = tok.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
                ids = ids_of(tok.apply_chat_template(messages, add_generation_prompt=True, tokenize=True))
                fixture["chat"].append({"messages": messages, "text": text, "ids": ids})
        with open(os.path.join(OUT, key + ".json"), "w", encoding="utf-8") as f:
            json.dump(fixture, f, ensure_ascii=False, indent=1)
        # The HF tokenizer files, for the tokenizer.json loader test, when small enough.
        with tempfile.TemporaryDirectory() as tmp:
            tok.save_pretrained(tmp)
            size = os.path.getsize(os.path.join(tmp, "tokenizer.json"))
            dest = os.path.join(OUT, "hf", key)
            if size < 4 * 1024 * 1024:
                os.makedirs(dest, exist_ok=True)
                for name in ("tokenizer.json", "tokenizer_config.json", "chat_template.jinja"):
                    if os.path.exists(os.path.join(tmp, name)):
                        shutil.copy(os.path.join(tmp, name), os.path.join(dest, name))
                print(key, "saved HF tokenizer files (tokenizer.json %.1f MB)" % (size / 2**20))
            else:
                print(key, "tokenizer.json is %.1f MB: not saved" % (size / 2**20))
        print(key, len(cases), "cases,", len(fixture["chat"]), "chats")


if __name__ == "__main__":
    main()
