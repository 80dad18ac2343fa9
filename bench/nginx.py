"""generate-nginx at 10k and 100k bindings, beside the same hosts as one nginx server block each.

Run: python bench/nginx.py   (aims at 100k: the whole generate-nginx command, loading included,
<= 2 s; nginx -t <= 1 s; nginx <= 64 MB)

Why the comparison: one ``server`` block per domain is how such files are usually written, and it is
what nginx handles worst (every block carries its own copy of the location tree and module configs).
The generated file puts every binding in one ``map`` and keeps a single server block. For each
configuration this prints the file size, the time to write it, ``nginx -t`` (time and peak memory),
and the resident memory of the running master and worker after start-up, then the ratios.

"write s" is generate-nginx run as a command (interpreter start-up and loading included, best of
three); the per-host file is written in-process from the loaded file (loading included). Peak memory
of ``nginx -t`` comes from GNU time; the running nginx's from /proc after a worker has answered.

The bindings mix what a large real file has: redirects with and without a prefix, one rewrite in ten
(``subdir: serve``, as nginx cannot do ``subdir: redirect``), one wildcard in fifty, ICP numbers on
mainland regions. The per-host baseline redirects with ``return`` and proxies with ``proxy_pass``,
the least it could do.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from _files import bindings_yaml
from _processes import free_port, verdict
from osscname import load_bindings
from osscname.model import Binding

COUNTS = (10_000, 100_000)
AIM_GENERATE, AIM_TEST, AIM_MB = 2.0, 1.0, 64.0


def per_host_conf(bindings: list[Binding], listen: str) -> str:
    """The baseline: every binding as its own server block."""
    out = []
    for b in bindings:
        if b.mode == "redirect":
            body = f"    return {b.status} http://{b.bucket_host}/{b.route.root[1:]}$request_uri;"
        else:
            # A variable defers resolving the bucket host to request time (the resolver), as ours does.
            body = (f"    location / {{\n        set $bucket {b.bucket_host};\n        proxy_set_header Host $bucket;\n"
                    f"        proxy_pass http://$bucket/{b.route.root[1:]}$request_uri;\n    }}")  # fmt: skip
        out.append(f"server {{\n    listen {listen};\n    server_name {b.domain};\n{body}\n}}\n")
    return "".join(out)


WRAPPER = """daemon off;
worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log;
events {{ worker_connections 64; }}
http {{
    access_log off;
    resolver 127.0.0.53;
    server_names_hash_max_size 262144;
    server_names_hash_bucket_size 256;
    client_body_temp_path {prefix}/body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    server {{ listen 127.0.0.1:{port} default_server; return 200 "app\\n"; }}
    include {include};
}}
"""
#: The generated file sets its own hash sizes; the wrapper must not set them twice.
WRAPPER_GENERATED = WRAPPER.replace("    server_names_hash_max_size 262144;\n    server_names_hash_bucket_size 256;\n", "")


@dataclass
class Row:
    label: str
    size_mb: float
    generate_s: float
    test_s: float
    test_peak_mb: float
    master_mb: float
    worker_mb: float


def timed_child(command: list[str]) -> tuple[float, float, int]:
    """(seconds, peak RSS in MB, exit status) of one command.

    The peak comes from GNU time, which forks from itself: measured from this process, a child's
    peak would include this Python process's memory, which the child shares until it execs."""
    gnu_time = shutil.which("time") or "/usr/bin/time"
    with tempfile.NamedTemporaryFile("r") as report:
        start = time.perf_counter()
        done = subprocess.run([gnu_time, "-f", "%M", "-o", report.name, *command], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        seconds = time.perf_counter() - start
        peak_kb = int(report.read().split()[-1])
    return seconds, peak_kb / 1024, done.returncode


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def answered(port: int, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
                sock.sendall(b"GET / HTTP/1.0\r\nHost: unbound.invalid\r\n\r\n")
                if sock.recv(64).startswith(b"HTTP/1.1 200"):
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise SystemExit(f"nginx did not answer on port {port}")
        time.sleep(0.05)


def measure_nginx(nginx: str, prefix: Path, port: int) -> tuple[float, float, float, float]:
    """nginx -t (seconds, peak MB), then the running master's and worker's RSS (MB)."""
    conf = ["-p", str(prefix), "-c", str(prefix / "nginx.conf"), "-e", str(prefix / "error.log")]
    test_s, test_peak, status = timed_child([nginx, "-t", *conf])
    if status != 0:
        raise SystemExit(f"nginx -t failed, see {prefix / 'error.log'}")
    process = subprocess.Popen([nginx, *conf], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        answered(port)  # a worker answered: start-up is over
        children = Path(f"/proc/{process.pid}/task/{process.pid}/children").read_text().split()
        return test_s, test_peak, rss_mb(process.pid), max((rss_mb(int(c)) for c in children), default=0.0)
    finally:
        process.send_signal(signal.SIGQUIT)
        process.wait(60)


def generate_command() -> list[str]:
    script = Path(sys.executable).with_name("generate-nginx")
    return [str(script)] if script.exists() else [sys.executable, "-m", "osscname.generators.nginx"]


def bench(nginx: str, folder: Path, count: int) -> list[Row]:
    source = folder / f"b{count}.yaml"
    source.write_text(bindings_yaml(count, nginx=True), encoding="utf-8")
    rows = []
    port = free_port()
    ours = folder / f"oss{count}"
    ours.mkdir()
    out = ours / "oss.conf"
    command = [*generate_command(), str(source), "--resolver", "127.0.0.53", "--listen", f"127.0.0.1:{port}", "-o", str(out)]
    generate_s = min(timed_child(command)[0] for _ in range(3))
    (ours / "nginx.conf").write_text(WRAPPER_GENERATED.format(prefix=ours, port=port, include=out))
    rows.append(Row("generate-nginx", out.stat().st_size / 1e6, generate_s, *measure_nginx(nginx, ours, port)))

    port = free_port()
    naive = folder / f"naive{count}"
    naive.mkdir()
    out = naive / "oss.conf"
    start = time.perf_counter()
    out.write_text(per_host_conf(list(load_bindings(source)), f"127.0.0.1:{port}"))
    generate_s = time.perf_counter() - start
    (naive / "nginx.conf").write_text(WRAPPER.format(prefix=naive, port=port, include=out))
    rows.append(Row("server block per host", out.stat().st_size / 1e6, generate_s, *measure_nginx(nginx, naive, port)))
    return rows


def main() -> int:
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    if not os.access(nginx, os.X_OK):
        print("nginx is not installed", file=sys.stderr)
        return 2
    print(f"{'bindings':>8}  {'config':<22}{'file MB':>8}{'write s':>9}{'nginx -t s':>11}{'-t peak MB':>11}{'master MB':>10}{'worker MB':>10}")
    results: dict[int, list[Row]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for count in COUNTS:
            results[count] = bench(nginx, Path(tmp), count)
            for row in results[count]:
                print(f"{count:>8}  {row.label:<22}{row.size_mb:>8.1f}{row.generate_s:>9.2f}{row.test_s:>11.2f}{row.test_peak_mb:>11.0f}"
                      f"{row.master_mb:>10.0f}{row.worker_mb:>10.0f}")  # fmt: skip
    print()
    for count, (ours, naive) in results.items():
        print(f"{count:>8}: per-host / generated  nginx -t {naive.test_s / ours.test_s:5.1f}x  -t peak memory "
              f"{naive.test_peak_mb / ours.test_peak_mb:5.1f}x  worker memory {naive.worker_mb / ours.worker_mb:5.1f}x")  # fmt: skip
    ours = results[COUNTS[-1]][0]
    memory = max(ours.master_mb, ours.worker_mb)
    print(f"100k aims: generate-nginx {ours.generate_s:.2f} s (<= {AIM_GENERATE} s, {verdict(ours.generate_s, AIM_GENERATE)}), "
          f"nginx -t {ours.test_s:.2f} s (<= {AIM_TEST} s, {verdict(ours.test_s, AIM_TEST)}), "
          f"nginx {memory:.0f} MB (<= {AIM_MB:.0f} MB, {verdict(memory, AIM_MB)})")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
