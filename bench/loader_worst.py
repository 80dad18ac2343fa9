"""The loader's worst case for a file of N bytes: time and peak memory, valid and hostile files.

Run: python bench/loader_worst.py [--sizes 1000,100000,10000000]

Each file is loaded by ``load_bindings(path)`` in a child process of its own; the figures are that
child's CPU time for the load and its peak resident memory (``VmHWM``, Linux) above the peak it had
reached before the load (interpreter and package, about 16 MB): a small file may stay under that,
shown as ``-``. The worst figures are taken over the files of 100 KB and more. Shapes:

* ``valid``: the generated bindings files of ``bench/load.py``;
* ``bomb``: nested aliases (``[&a0 [lol x 10], &a1 [*a0 x 10], ...]``) as a binding's key, the
  attack that took 2.65 GB for 383 bytes before; the levels grow with N (10 ** levels nodes);
* ``nodes``: ``bindings: [1,1,1,...]``, a node per two bytes, each one a problem;
* ``empty-maps``: ``bindings: [{},{},...]``, a binding (missing its domain) per three bytes;
* ``unknown-keys``: one binding of many unknown fields, each checked for a close field name;
* ``aliases``: ``- *a`` repeated, each a problem, read twice to place it at its alias;
* ``bad-regions``: distinct unknown regions, each compared with the 30 known ones;
* ``idn``: distinct internationalised domains, each through IDNA;
* ``long-value``: one bucket name of N bytes.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from _files import bindings_yaml

HEAD = "version: 1\nbindings:\n"

CHILD = """
import json, sys, time
from osscname import BindingError, load_bindings

def peak_kib():  # VmHWM, this process's own peak (ru_maxrss would include the parent's, on Linux)
    with open("/proc/self/status") as status:
        return int(next(line for line in status if line.startswith("VmHWM:")).split()[1])

before = peak_kib()
start = time.process_time()
try:
    outcome = f"{len(load_bindings(sys.argv[1]))} bindings"
except BindingError as error:
    outcome = f"{len(error.problems)} problems"
seconds = time.process_time() - start
print(json.dumps({"seconds": seconds, "kib": peak_kib() - before, "outcome": outcome}))
"""


def bomb(size: int) -> str:
    head, tail = f"{HEAD}  - domain: img.abc.com\n    ? [&a0 [" + ", ".join(["lol"] * 10) + "]", "]\n    : 1\n"
    parts, total, level = [head], len(head) + len(tail), 1
    while True:
        part = f", &a{level} [" + ",".join([f"*a{level - 1}"] * 10) + "]"
        if total + len(part) > size and level > 1:
            return "".join(parts) + tail
        parts.append(part)
        total += len(part)
        level += 1


def repeated(head: str, unit: str, tail: str, size: int) -> str:
    return head + unit * max(1, (size - len(head) - len(tail)) // len(unit)) + tail


def valid(size: int) -> str:
    count = max(1, size // 105)  # about 105 bytes per generated binding
    return bindings_yaml(count)


def unknown_keys(size: int) -> str:
    keys, total, i = [], 0, 0
    while total < size:
        key = f"k{i:x}: 1"
        keys.append(key)
        total += len(key) + 2
        i += 1
    return HEAD + "  - {domain: img.abc.com, bucket: abc-img, region: us-west-1, " + ", ".join(keys) + "}\n"


def idn(size: int) -> str:
    lines, total, i = [], 0, 0
    while total < size:
        line = f"  - {{domain: bücher{i}.münchen.example.org, bucket: bucket-{i // 90}, region: us-west-1}}\n"
        lines.append(line)
        total += len(line.encode())
        i += 1
    return HEAD + "".join(lines)


SHAPES = {
    "valid": valid,
    "bomb": bomb,
    "nodes": lambda size: repeated("version: 1\nbindings: [", "1,", "]\n", size),
    "empty-maps": lambda size: repeated("version: 1\nbindings: [", "{},", "]\n", size),
    "unknown-keys": unknown_keys,
    "aliases": lambda size: repeated(HEAD + "- &a {domain: img.abc.com, bucket: abc-img, region: us-west-1}\n", "- *a\n", "", size),
    "bad-regions": lambda size: HEAD + "".join(f"  - {{region: q{i:x}}}\n" for i in range(size // 15)),
    "idn": idn,
    "long-value": lambda size: HEAD + "  - {domain: img.abc.com, region: us-west-1, bucket: " + "b" * size + "}\n",
}


def measure(path: Path) -> dict[str, Any]:
    child = subprocess.run([sys.executable, "-c", CHILD, str(path)], capture_output=True, text=True, check=True, timeout=3600)
    return json.loads(child.stdout)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="1000,100000,10000000", help="file sizes in bytes, comma-separated")
    parser.add_argument("--shapes", default=",".join(SHAPES), help="which shapes, comma-separated")
    args = parser.parse_args()
    sizes = [int(size) for size in args.sizes.split(",")]
    worst_seconds_per_mb = worst_bytes_per_byte = 0.0
    print(f"{'shape':<13} {'bytes':>10} {'CPU s':>8} {'s/MB':>6} {'peak MB':>8} {'B/B':>5}  outcome")
    with tempfile.TemporaryDirectory() as folder:
        for shape in args.shapes.split(","):
            for size in sizes:
                path = Path(folder) / f"{shape}-{size}.yaml"
                path.write_text(SHAPES[shape](size), encoding="utf-8")
                actual = path.stat().st_size
                result = measure(path)
                path.unlink()
                seconds, peak = float(result["seconds"]), int(result["kib"]) * 1024
                per_mb, per_byte = seconds / (actual / 1e6), peak / actual
                if actual >= 100_000:  # below that, start-up noise dominates the ratios
                    worst_seconds_per_mb, worst_bytes_per_byte = max(worst_seconds_per_mb, per_mb), max(worst_bytes_per_byte, per_byte)
                memory = f"{peak / 1e6:>8.1f} {per_byte:>5.0f}" if peak >= 1e6 else f"{'-':>8} {'-':>5}"
                print(f"{shape:<13} {actual:>10} {seconds:>8.3f} {per_mb:>6.2f} {memory}  {result['outcome']}")
    print(f"worst (files of 100 KB and more): {worst_seconds_per_mb:.2f} s of CPU per MB, {worst_bytes_per_byte:.0f} bytes of memory per byte")
    return 0


if __name__ == "__main__":
    sys.exit(main())
