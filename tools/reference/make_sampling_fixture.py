"""Writes tests/data/prompts/python_sampling.json: what Python's `random` module draws, for
the C++ steer::Sampler to reproduce bit for bit.

The refusal-direction paper's code (andyrdt/refusal_direction, pipeline/run_pipeline.py,
load_and_sample_datasets) does:

    random.seed(42)
    harmful_train  = random.sample(harmful_train_list,  128)   # 260 items
    harmless_train = random.sample(harmless_train_list, 128)   # 18793 items
    harmful_val    = random.sample(harmful_val_list,     32)   # 39 items
    harmless_val   = random.sample(harmless_val_list,    32)   # 6264 items

random.sample of a list returns population[j] for the same j it would return from
range(len(list)), so the fixture stores indices. The sizes are those of the shared splits
(shared/data/refusal_direction/dataset/splits); the C++ test checks them too. The other cases
cover both branches of random.sample (pool and set), k > 5 vs k <= 5, shuffle, getrandbits,
_randbelow above 2**32, and seeds with more than one 32-bit word.

Usage: /root/.cache/steer/venv-ref/bin/python tools/reference/make_sampling_fixture.py
"""
import json
import os
import random
import sys

OUT = os.path.join(os.path.dirname(__file__), "..", "..", "tests", "data", "prompts",
                   "python_sampling.json")


def main():
    fx = {"python": sys.version.split()[0]}

    random.seed(42)
    fx["refusal_direction"] = {
        "seed": 42,
        "sizes": [260, 18793, 39, 6264],
        "k": [128, 128, 32, 32],
        "indices": [random.sample(range(260), 128), random.sample(range(18793), 128),
                    random.sample(range(39), 32), random.sample(range(6264), 32)],
    }

    cases = []
    for seed, n, k in [(0, 10, 10), (7, 10, 3), (123, 1000, 5), (3, 100000, 200),
                       (2**32 + 5, 50, 20), (2**63 + 11, 5000, 64), (1, 1, 1), (99, 21, 6)]:
        random.seed(seed)
        cases.append({"seed": seed, "n": n, "k": k, "indices": random.sample(range(n), k)})
    fx["sample"] = cases

    shuffles = []
    for seed, n in [(9, 20), (42, 100)]:
        random.seed(seed)
        x = list(range(n))
        random.shuffle(x)
        shuffles.append({"seed": seed, "n": n, "order": x})
    fx["shuffle"] = shuffles

    bits = []
    for seed in [0, 42, 2**32 - 1, 2**32, 2**64 - 1]:
        r = random.Random(seed)
        bits.append({"seed": seed, "getrandbits32": [r.getrandbits(32) for _ in range(5)],
                     "getrandbits7": [r.getrandbits(7) for _ in range(5)]})
    fx["getrandbits"] = bits

    r = random.Random(5)
    fx["randbelow"] = {"seed": 5, "n": 2**40 + 3, "values": [r._randbelow(2**40 + 3) for _ in range(6)]}

    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w") as f:
        json.dump(fx, f)
        f.write("\n")
    print("wrote", os.path.normpath(OUT))


if __name__ == "__main__":
    main()
