#!/usr/bin/env python3
"""Repair the vocabulary GGUF files of ../shared/data/tokenizer-vectors and write patch files.

What went wrong: somewhere on their way here the files were read as text, i.e. passed through
`bytes.decode("utf-8", errors="replace").encode("utf-8")`. Every byte sequence that is not valid
UTF-8 became U+FFFD (EF BF BD): length and count fields >= 128, token ids, float hyperparameters,
and (for the SPM vocabulary) most of the 32000 float scores. Token texts and merges are valid
UTF-8 and survived.

How it is undone: the GGUF structure is parsed over the damaged bytes, where each U+FFFD stands
for 1-3 unknown original bytes (Python's decoder replaces one invalid byte, or a lead byte plus
the continuation bytes before the break, by one U+FFFD). Unknowns are resolved by structure
(array counts and string lengths: the value after which the next key or string header starts),
by a value model checked against the damage (SPM scores: 0, -1e9, -(i - first)), or by preference
(shortest float, roundest integer, special-looking token for *_token_id) and then confirmed.
Every repaired file is checked two ways:
  1. damaging it again the same way gives the shared file byte for byte;
  2. its SHA-256 equals upstream llama.cpp's (git-lfs pointers of ggerganov/llama.cpp models/*),
     where that hash is known; with a few unknown header fields left, they are brute-forced
     against the hash.
The token texts, merges, token types and scores that tokenization uses are fixed by (1) alone.

Output: tests/data/tokenizer/vector-patches/<name>.json with the damaged file's size and
SHA-256, the repaired size and SHA-256, whether it equals upstream, and the patches as
[offset delta in the damaged file, original bytes as hex] for each U+FFFD that was damage (a
literal U+FFFD in a token text stays). The C++ tests apply them (tests/tokenizer_test_util.h).

Usage: repair_tokenizer_vectors.py [--write-dir DIR] [names...]   (needs numpy)
"""
import argparse
import hashlib
import itertools
import json
import os
import struct
import sys

import numpy as np

FF = b"\xef\xbf\xbd"
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
SHARED = os.path.abspath(os.path.join(ROOT, "..", "shared", "data", "tokenizer-vectors"))
OUT_DIR = os.path.join(ROOT, "tests", "data", "tokenizer", "vector-patches")

# SHA-256 of the upstream files (git-lfs pointers in ggerganov/llama.cpp, models/).
UPSTREAM_SHA256 = {
    "gpt-2": "cedc56ca6e2e89f63e781696d1fd76b4b1d49e6720dee86463e915f6e90016ac",
    "llama-spm": "16c3724582d59aa8bf84711894e833f916ee46a31d80e21312759c48bf8d0e69",
    "refact": "ac3ceda902fed91ccf74312b305d9b86c37e4f8e35fa9cc6ef3ce34fca7d4678",
    "falcon": "9f0bf8b0733680398b72e652e90f260f43782f326e75545fc0e49611a5ba35ad",
    "deepseek-llm": "867f77537b54565f0d81d508c04edc41aa1d4ffc1a92745f225b4c1b02755f76",
    "starcoder": "fedb892b4e1bd3c1f2fcdae356440b14fb458f4264d586e5c987ed93df4e174d",
}
NAMES = ["gpt-2", "llama-spm", "starcoder", "refact", "falcon", "deepseek-coder", "deepseek-llm"]

SCALAR = {0: "B", 1: "b", 2: "H", 3: "h", 4: "I", 5: "i", 6: "f", 7: "?", 10: "Q", 11: "q", 12: "d"}
SIZE = {k: struct.calcsize("<" + v) for k, v in SCALAR.items()}


def damage(b: bytes) -> bytes:
    return b.decode("utf-8", "replace").encode("utf-8")


class Stream:
    """The damaged file as a list of known bytes (int) and markers (None) for each U+FFFD."""

    def __init__(self, data: bytes):
        self.items = []
        i = 0
        while i < len(data):
            if data[i:i + 3] == FF:
                self.items.append(None)
                i += 3
            else:
                self.items.append(data[i])
                i += 1
        self.pos = 0

    def peek(self, n):
        return self.items[self.pos:self.pos + n]

    def take(self, n):
        r = self.items[self.pos:self.pos + n]
        self.pos += n
        return r


def candidates_int(r):
    """Little-endian values of byte list r, where None is one byte 0x80..0xFF."""
    vals = [0]
    for k, b in enumerate(r):
        opts = [b] if b is not None else range(0x80, 0x100)
        vals = [v | (o << (8 * k)) for v in vals for o in opts]
    return vals



def is_key_at(items, pos):
    """Does a metadata key (u64 length, ASCII dotted name, u32 type <= 12) start at pos?"""
    r = items[pos:pos + 8]
    if len(r) < 8 or None in r:
        return False
    n = int.from_bytes(bytes(r), "little")
    if not 3 <= n <= 80:
        return False
    s = items[pos + 8:pos + 8 + n]
    if None in s:
        return False
    try:
        text = bytes(s).decode("ascii")
    except UnicodeDecodeError:
        return False
    if "." not in text or not all(ch.isalnum() or ch in "._-" for ch in text):
        return False
    t = items[pos + 8 + n:pos + 12 + n]
    return None not in t and len(t) == 4 and int.from_bytes(bytes(t), "little") <= 12


def parse_string(st):
    r = st.take(8)
    if None not in r:
        n = int.from_bytes(bytes(r), "little")
    else:
        # A string of 128+ bytes: its length is where the next string header (7 zero bytes
        # after the low byte) starts; token texts hold no NUL bytes.
        if r.count(None) > 1 or any(x != 0 for x in r[2:]):
            raise ValueError("implausible string length")
        start = st.pos
        fits = []
        for n in candidates_int(r):
            body = st.items[start:start + n]
            if None in body or 0 in body:
                continue
            try:
                bytes(body).decode("utf-8")
            except UnicodeDecodeError:
                continue
            nxt = st.items[start + n:start + n + 8]
            if len(nxt) == 8 and all(x == 0 for x in nxt[1:]):
                fits.append(n)
        if len(fits) != 1:
            raise ValueError("string length at %d: %d candidates" % (start, len(fits)))
        n = fits[0]
    if n > 1 << 20:
        raise ValueError("implausible string length %d" % n)
    if None not in st.peek(n):
        return bytes(st.take(n))
    # A marker inside a string of known length is a literal U+FFFD of the token text.
    body = bytearray()
    while len(body) < n:
        if st.pos >= len(st.items):
            raise ValueError("string runs past the end")
        x = st.take(1)[0]
        body.extend(FF if x is None else bytes([x]))
    if len(body) != n:
        raise ValueError("string with unknown bytes at %d" % st.pos)
    return bytes(body)


def float_preference(r, fmt):
    size = struct.calcsize(fmt)

    def cost(v):
        x = struct.unpack(fmt, v.to_bytes(size, "little"))[0]
        if not np.isfinite(x):
            return 1e9
        return len((str(np.float32(x)) if size == 4 else repr(x)).replace("-", "").replace("e", ""))

    return sorted(candidates_int(r), key=cost)


def int_preference(r):
    def zeros(v):
        z = 0
        while v and v % 10 == 0:
            v //= 10
            z += 1
        return z

    def binary_zeros(v):
        return (v & -v).bit_length() if v else 0

    # Model sizes are mostly multiples of large powers of two, then round decimals.
    return sorted(candidates_int(r), key=lambda v: (-binary_zeros(v), -zeros(v), v))


def width_layouts(items, pos, width):
    """Per-byte constraints for a fixed-width field at pos, for each way of reading its markers
    (one byte 0x80..0xFF, or a lead byte plus one or two continuation bytes): yields
    (constraints, items consumed), constraints[i] an int or a range of allowed byte values."""
    def rec(i, acc):
        if len(acc) == width:
            yield acc, i - pos
            return
        if len(acc) > width or i >= len(items):
            return
        x = items[i]
        if x is not None:
            yield from rec(i + 1, acc + [x])
            return
        yield from rec(i + 1, acc + [range(0x80, 0x100)])
        yield from rec(i + 1, acc + [range(0xE0, 0xF5), range(0x80, 0xC0)])
        yield from rec(i + 1, acc + [range(0xF0, 0xF5), range(0x80, 0xC0), range(0x80, 0xC0)])
    yield from rec(pos, [])


def fits(value, constraints):
    for k, c in enumerate(constraints):
        b = (value >> (8 * k)) & 0xFF
        if (b != c) if isinstance(c, int) else (b not in c):
            return False
    return value >> (8 * len(constraints)) == 0


def read_count(st, et):
    """An array count: the value after which the next key (or the end) follows."""
    if None not in st.peek(8):
        return int.from_bytes(bytes(st.take(8)), "little")
    for constraints, used in sorted(width_layouts(st.items, st.pos, 8), key=lambda x: -x[1]):
        save = st.pos
        st.pos += used
        found = None
        if et == 8:
            count = 0
            try:
                while st.pos < len(st.items):
                    if fits(count, constraints) and is_key_at(st.items, st.pos):
                        found = count
                        break
                    parse_string(st)
                    count += 1
            except (ValueError, IndexError):
                pass
            if found is None and st.pos == len(st.items) and fits(count, constraints):
                found = count
        else:
            for n in range(0, (len(st.items) - st.pos) // SIZE[et] + 1):
                end = st.pos + n * SIZE[et]
                if fits(n, constraints) and (end == len(st.items) or is_key_at(st.items, end)):
                    found = n
                    break
        st.pos = save + used
        if found is not None:
            return found
        st.pos = save
    raise ValueError("no array count fits")


def repair_scores(st, n):
    """SPM scores from a value model, corrected where the damage disagrees."""
    start = st.pos
    key = list(len(b"tokenizer.ggml.token_type").to_bytes(8, "little")) + list(b"tokenizer.ggml.token_type")
    end = start
    while st.items[end:end + len(key)] != key:
        end += 1
    damaged = b"".join(FF if x is None else bytes([x]) for x in st.items[start:end])
    first = 0
    while st.items[start + 4 * first:start + 4 * first + 4] == [0, 0, 0, 0]:
        first += 1
    vals = [0.0] * n
    vals[first] = -1e9
    for i in range(first + 1, n):
        vals[i] = -float(i - first)

    def first_mismatch(v):
        cb = damage(np.asarray(v, dtype="<f4").tobytes())
        m = min(len(cb), len(damaged))
        k = next((i for i in range(m) if cb[i] != damaged[i]), None)
        if k is None and len(cb) == len(damaged):
            return None
        return m if k is None else k

    def float_at(k):
        lo, hi = 0, n
        while lo < hi:
            mid = (lo + hi) // 2
            if len(damage(np.asarray(vals[:mid + 1], dtype="<f4").tobytes())) > k:
                hi = mid
            else:
                lo = mid + 1
        return lo

    for _ in range(5000):
        k = first_mismatch(vals)
        if k is None:
            st.pos = end
            return vals
        f = float_at(k)
        best = None
        for g in (f, f - 1, f + 1):
            if not 0 <= g < n:
                continue
            for cand in (-1e9, 0.0, -float(g - first)):
                if cand == vals[g]:
                    continue
                old, vals[g] = vals[g], cand
                k2 = first_mismatch(vals)
                vals[g] = old
                if k2 is None or k2 > k:
                    if best is None or k2 is None or (best[0] is not None and k2 > best[0]):
                        best = (k2, g, cand)
        if best is None:
            raise ValueError("scores: no value fits at damaged byte %d (float %d)" % (k, f))
        vals[best[1]] = best[2]
    raise ValueError("scores: too many corrections")


TOKEN_NAMES = {
    "bos": ["<s>", "<|endoftext|>", "<\uff5cbegin\u2581of\u2581sentence\uff5c>", "<|begin_of_text|>", "<bos>"],
    "eos": ["</s>", "<|endoftext|>", "<\uff5cend\u2581of\u2581sentence\uff5c>", "<|end_of_text|>", "<eos>"],
    "padding": ["<pad>", "</s>", "<|endoftext|>", "<\uff5cend\u2581of\u2581sentence\uff5c>"],
    "unknown": ["<unk>"],
}


def repair(data: bytes):
    """Returns (repaired bytes, ambiguous fields [(offset, key, alternatives)])."""
    st = Stream(data)
    out = bytearray()

    def known(r):
        if None in r:
            raise ValueError("unknown bytes in the header")
        out.extend(bytes(r))

    known(st.take(4))
    known(st.take(4))
    known(st.take(8))
    r = st.take(8)
    known(r)
    n_kv = int.from_bytes(bytes(r), "little")
    fields, ambiguous = {}, []
    for _ in range(n_kv):
        key = parse_string(st)
        out.extend(len(key).to_bytes(8, "little") + key)
        key = key.decode()
        r = st.take(4)
        known(r)
        t = int.from_bytes(bytes(r), "little")
        if t in SCALAR:
            r = st.take(SIZE[t])
            if None not in r:
                out.extend(bytes(r))
                fields[key] = struct.unpack("<" + SCALAR[t], bytes(r))[0]
                continue
            alts = float_preference(r, "<" + SCALAR[t]) if t in (6, 12) else int_preference(r)
            alts = [a.to_bytes(SIZE[t], "little") for a in alts]
            ambiguous.append((len(out), key, alts))
            out.extend(alts[0])
        elif t == 8:
            s = parse_string(st)
            out.extend(len(s).to_bytes(8, "little") + s)
            fields[key] = s.decode("utf-8", "replace")
        elif t == 9:
            r = st.take(4)
            known(r)
            et = int.from_bytes(bytes(r), "little")
            n = read_count(st, et)
            out.extend(n.to_bytes(8, "little"))
            if et == 8:
                vals = [parse_string(st) for _ in range(n)]
                for v in vals:
                    out.extend(len(v).to_bytes(8, "little") + v)
                fields[key] = [v.decode("utf-8", "replace") for v in vals]
            elif key == "tokenizer.ggml.scores":
                vals = repair_scores(st, n)
                out.extend(np.asarray(vals, dtype="<f4").tobytes())
            else:
                r = st.take(n * SIZE[et])
                known(r)
                fields[key] = list(struct.unpack("<%d%s" % (n, SCALAR[et]), bytes(r)))
        else:
            raise ValueError("metadata type %d" % t)
    known(st.items[st.pos:])
    tokens = fields.get("tokenizer.ggml.tokens", [])
    types = fields.get("tokenizer.ggml.token_type", [])
    for off, key, alts in ambiguous:
        if key.endswith("_token_id"):
            wanted = TOKEN_NAMES.get(key.split(".")[-1][: -len("_token_id")], [])

            def rank(a):
                v = int.from_bytes(a, "little")
                if v >= len(tokens):
                    return 9
                if tokens[v] in wanted:
                    return wanted.index(tokens[v])
                return 5 if (v < len(types) and types[v] == 3) else (6 if tokens[v].startswith("<") else 7)

            alts.sort(key=rank)
            out[off:off + len(alts[0])] = alts[0]
    return bytes(out), ambiguous


def brute_force(fixed, ambiguous, sha, limit=20000):
    """Tries the preferred alternatives of the ambiguous header fields against the hash."""
    buf = bytearray(fixed)
    per_field = [4 if len(alts) > 128 else len(alts) for _, _, alts in ambiguous]
    while True:
        total = 1
        for k in per_field:
            total *= k
        if total <= limit:
            break
        i = max(range(len(per_field)), key=lambda j: per_field[j])
        if per_field[i] <= 2:
            return None
        per_field[i] = max(2, per_field[i] // 2)
    lists = [[(off, a) for a in alts[:k]] for (off, _, alts), k in zip(ambiguous, per_field)]
    for combo in itertools.product(*lists):
        for off, a in combo:
            buf[off:off + len(a)] = a
        if hashlib.sha256(buf).hexdigest() == sha:
            return bytes(buf)
    return None


def patches_for(repaired: bytes):
    """[offset delta in the damaged file, original bytes hex] for each replacement."""
    spans = []

    def record(err):
        spans.append((err.start, err.end))
        return ("\ufffd", err.end)

    import codecs
    codecs.register_error("steer_record", record)
    repaired.decode("utf-8", "steer_record")
    patches, prev_in, out_off, last = [], 0, 0, 0
    for start, end in spans:
        out_off += start - prev_in
        patches.append([out_off - last, repaired[start:end].hex()])
        last = out_off
        out_off += 3
        prev_in = end
    return patches


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("names", nargs="*", default=NAMES)
    ap.add_argument("--write-dir", help="also write the repaired .gguf files here")
    args = ap.parse_args()
    os.makedirs(OUT_DIR, exist_ok=True)
    ok = True
    for name in args.names:
        path = os.path.join(SHARED, "ggml-vocab-%s.gguf" % name)
        data = open(path, "rb").read()
        fixed, ambiguous = repair(data)
        same_damage = damage(fixed) == data
        sha = hashlib.sha256(fixed).hexdigest()
        upstream = UPSTREAM_SHA256.get(name)
        if upstream and sha != upstream:
            found = brute_force(fixed, ambiguous, upstream)
            if found:
                fixed, sha = found, upstream
        equals_upstream = (sha == upstream) if upstream else None
        ok &= same_damage
        print("%-15s damage-roundtrip %-5s upstream-sha256 %-5s unknown header fields %s" % (
            name, same_damage, {True: "equal", False: "DIFF", None: "n/a"}[equals_upstream],
            [k for _, k, _ in ambiguous]))
        patch = {
            "file": "ggml-vocab-%s.gguf" % name,
            "damaged_size": len(data),
            "damaged_sha256": hashlib.sha256(data).hexdigest(),
            "repaired_size": len(fixed),
            "repaired_sha256": sha,
            "equals_upstream": equals_upstream,
            "guessed_header_fields": [] if equals_upstream else [k for _, k, _ in ambiguous],
            "patches": patches_for(fixed),
        }
        with open(os.path.join(OUT_DIR, "%s.json" % name), "w") as f:
            json.dump(patch, f, separators=(",", ":"))
        if args.write_dir:
            os.makedirs(args.write_dir, exist_ok=True)
            open(os.path.join(args.write_dir, "ggml-vocab-%s.gguf" % name), "wb").write(fixed)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
