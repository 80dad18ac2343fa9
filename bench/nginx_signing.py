"""What signing costs nginx: private bindings (njs signs every upstream request, presigns redirects)
beside the same bindings public, through a real nginx with the generated file.

Run: python bench/nginx_signing.py [--seconds 5] [--clients 16] [--rounds 2]

One bindings file holds a public and a private rewrite, and a public and a private 302 redirect, of
the same bucket; ``generate-nginx`` writes it (njs found on the machine) and a real nginx (one worker,
``load_module`` and the ``env`` lines as the README gives them, the key pair in its environment) serves
it on 127.0.0.1. A static nginx plays the bucket (it ignores the signature: the signature's
correctness is the tests' business, ``tests/test_nginx_private.py``), serving a 1 KiB object so that
the per-request work shows, not the copy. Clients on keep-alive connections ask one row at a time for
a bounded time; each row prints requests per second and, the figure that does not depend on what else
the machine runs, the nginx worker's CPU time per request; then signed / unsigned ratios. Rows are
interleaved over ``--rounds`` rounds and each figure is the median of its rounds.

njs 0.7.9 (Debian bookworm) makes a fresh VM for every request, so each signed request also pays for
the VM and derives its signing key; nothing is cached between requests.

Requests go to 127.0.0.1 only; every loop is bounded in time and count; every process is stopped by PID.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

from _processes import free_port
from nginx_proxy import ORIGIN_CONF, PROXY_CONF, Client, cpu_seconds, nginx, worker_of

from osscname.generators import nginx as generator

NJS_SO = "/usr/lib/nginx/modules/ngx_http_js_module.so"
BUCKET, REGION = "abc-bench", "ap-southeast-1"
BUCKET_HOST = f"{BUCKET}.oss-{REGION}.aliyuncs.com"
KEY, SIZE = "object.bin", 1024
ROWS = {  # label: (Host, what it gets)
    "rewrite, public": ("open.example.com", 200),
    "rewrite, private (signed)": ("sec.example.com", 200),
    "redirect 302, public": ("go.example.com", 302),
    "redirect 302, private (presigned)": ("share.example.com", 302),
}
BINDINGS = f"""version: 1
defaults: {{bucket: {BUCKET}, region: {REGION}}}
bindings:
  - {{domain: open.example.com, mode: rewrite}}
  - {{domain: sec.example.com, mode: rewrite, private: true}}
  - {{domain: go.example.com, status: 302}}
  - {{domain: share.example.com, status: 302, private: true}}
"""
#: What private bindings need before everything else in nginx.conf (README: generate-nginx).
MAIN = "load_module {njs};\nenv OSS_ACCESS_KEY_ID;\nenv OSS_ACCESS_KEY_SECRET;\n"


def measure(port: int, worker: int, host: str, status: int, clients: int, seconds: float) -> tuple[float, float, int]:
    """(requests per second, worker CPU µs per request, errors) of one row."""
    import time

    begin = time.monotonic()
    start, deadline = begin + 0.5, begin + 0.5 + seconds
    threads = []
    for _ in range(clients):
        client = Client(port, host, f"/{KEY}", start, deadline)
        client.expected = str(status).encode()
        threads.append(client)
    cpu = cpu_seconds(worker)
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(seconds + 60)
    cpu = cpu_seconds(worker) - cpu
    requests = sum(len(thread.latencies) for thread in threads)
    errors = sum(thread.errors for thread in threads)
    total = sum(len(thread.latencies) for thread in threads) + errors  # the warm-up's too: the CPU counted them
    return requests / seconds, 1e6 * cpu / max(total, 1), errors


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    binary = shutil.which("nginx") or "/usr/sbin/nginx"
    if not os.access(binary, os.X_OK) or not os.path.isfile(NJS_SO):
        print(f"needs nginx and {NJS_SO} (./dev test installs both)", file=sys.stderr)
        return 2
    os.environ.update(OSS_ACCESS_KEY_ID="LTAI5tBenchReader001", OSS_ACCESS_KEY_SECRET="bench-secret")
    figures: dict[str, list[tuple[float, float, int]]] = {label: [] for label in ROWS}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        folder.chmod(0o755)  # nginx's workers (not root) read the object and write their temporary files here
        (folder / "buckets").mkdir()
        (folder / "buckets" / KEY).write_bytes(os.urandom(SIZE))
        (folder / "b.yaml").write_text(BINDINGS)
        origin_prefix, front = folder / "origin", folder / "front"
        origin_prefix.mkdir()
        front.mkdir()
        origin_port, port = free_port(), free_port()
        origin_prefix.joinpath("nginx.conf").write_text(ORIGIN_CONF.format(prefix=origin_prefix, port=origin_port, root=folder / "buckets"))
        if generator.main([str(folder / "b.yaml"), "--listen", f"127.0.0.1:{port}", "--upstream", f"{BUCKET_HOST}=http://127.0.0.1:{origin_port}",
                           "-o", str(front / "oss.conf")]) != 0:  # fmt: skip
            raise SystemExit("generate-nginx failed")
        front.joinpath("nginx.conf").write_text(PROXY_CONF.format(main=MAIN.format(njs=NJS_SO), workers=1, prefix=front, default_port=free_port(),
                                                                  include=front / "oss.conf"))  # fmt: skip
        with nginx(binary, origin_prefix, origin_port), nginx(binary, front, port) as process:
            worker = worker_of(process.pid)
            for _ in range(args.rounds):
                for label, (host, status) in ROWS.items():
                    figures[label].append(measure(port, worker, host, status, args.clients, args.seconds))
    print(f"{'':<36}{'req/s':>9}{'nginx µs/req':>14}{'errors':>8}")
    medians = {}
    for label, runs in figures.items():
        rate, cpu = statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs)
        medians[label] = (rate, cpu)
        print(f"{label:<36}{rate:>9.0f}{cpu:>14.0f}{sum(r[2] for r in runs):>8}")
    for kind in ("rewrite", "redirect 302"):
        public = medians[next(label for label in ROWS if label.startswith(kind) and "public" in label)]
        private = medians[next(label for label in ROWS if label.startswith(kind) and "private" in label)]
        print(f"{kind}: signed / unsigned = {private[1] / public[1]:.2f}x nginx CPU per request (+{private[1] - public[1]:.0f} µs), "
              f"{private[0] / public[0]:.2f}x req/s")  # fmt: skip
    print(f"{args.clients} clients, {SIZE} B object, median of {args.rounds} rounds of {args.seconds:g} s per row; load average {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
