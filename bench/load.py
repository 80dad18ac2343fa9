"""Load + validate time of generated bindings files: 1k, 10k, 100k, and the 100k/10k ratio.

Run: python bench/load.py   (aim: 100k in <= 1.5 s, ratio <= 12, i.e. close to linear)

Each file mixes the features a real file has: regions with and without ICP, redirect and rewrite
bindings, prefixes, index documents, wildcards. Times are the best of three runs of
``load_bindings(path)``, reading the file included.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from _files import bindings_yaml
from osscname import load_bindings


def best_of(path: Path, runs: int = 3) -> float:
    best = float("inf")
    for _ in range(runs):
        start = time.perf_counter()
        bindings = load_bindings(path)
        best = min(best, time.perf_counter() - start)
    assert len(bindings) > 0
    return best


def main() -> int:
    results: dict[int, float] = {}
    with tempfile.TemporaryDirectory() as folder:
        for count in (1_000, 10_000, 100_000):
            path = Path(folder) / f"b{count}.yaml"
            path.write_text(bindings_yaml(count), encoding="utf-8")
            results[count] = best_of(path)
            size = path.stat().st_size / 1e6
            print(f"{count:>7} bindings  {size:6.1f} MB  {results[count]:7.3f} s  {results[count] / count * 1e6:6.2f} µs/binding")
    ratio = results[100_000] / results[10_000]
    print(f"100k/10k ratio {ratio:.2f} (aim <= 12); 100k {results[100_000]:.2f} s (aim <= 1.5 s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
