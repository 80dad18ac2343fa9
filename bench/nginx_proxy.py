"""Large objects through a real nginx running the generated file: proxy buffer settings side by side.

Run: python bench/nginx_proxy.py [--seconds 8] [--clients 64] [--origin nginx|python]

A rewrite binding is generated with ``generate-nginx`` (``--upstream`` pointing its bucket host at a
local origin), once per buffer setting below, and served by a real nginx (one worker) on 127.0.0.1.
64 clients, each on its own keep-alive connection, fetch the same 10 MiB object over and over for a
bounded time; each row prints requests per second, throughput, the 99th percentile of the time to the
last byte, nginx's CPU time per request, and the worker's peak resident memory. The first row is the
origin asked directly by the same clients: the ceiling any proxy setting can reach on this machine.

The origin is a second nginx serving the bucket folder as static files (``--origin nginx``, the
default), because the project's Python origin (``osscname.testing.serve_origin``, ``--origin python``)
is the bottleneck at this load: one interpreter answering every request on a thread, it serves about
140 req/s on its own on the 2-vCPU development machine, which is about what nginx proxies there, so
it hides the difference between the better settings; the static origin serves 200+ req/s directly.
The clients are Python threads reading into one preallocated buffer each (``recv_into``), which
spend their time in the kernel's copy, not in Python. All of it shares the machine's cores: the
figures are for comparing the rows of one run.

Requests go to 127.0.0.1 only; every loop is bounded in time and in count, and every process started
here is stopped by its PID.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from collections.abc import Iterator

from _processes import free_port, wait_for_port

from osscname.generators import nginx as generator

OBJECT_SIZE = 10 * 1024 * 1024
BUCKET, DOMAIN = "big", "big.example.org"
BUCKET_HOST = f"{BUCKET}.oss-us-west-1.aliyuncs.com"
KEY = "object.bin"
#: At most this many requests per client and run, whatever the time left: every loop is bounded.
MAX_REQUESTS = 10_000
WARM_UP_S = 1.0
#: Buffer settings compared, as generate-nginx writes them (:data:`generator.PROXY_BUFFERING`'s shape).
SETTINGS: dict[str, generator.Buffering] = {
    "nginx defaults": (),
    "16 x 64k (generated)": generator.PROXY_BUFFERING,
    "64 x 64k": (("proxy_buffer_size", ("64k",)), ("proxy_buffers", ("64", "64k")), ("proxy_busy_buffers_size", ("128k",))),
}

#: nginx.conf around a generated file: ``main`` is what goes before everything (the njs module and the
#: credentials' ``env`` lines for private bindings), ``workers`` the worker processes (1 here).
PROXY_CONF = """{main}daemon off;
worker_processes {workers};
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {prefix}/body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    server {{ listen 127.0.0.1:{default_port} default_server; return 200 "app\\n"; }}
    include {include};
}}
"""
ORIGIN_CONF = """daemon off;
worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    sendfile on;
    client_body_temp_path {prefix}/body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    server {{ listen 127.0.0.1:{port}; root {root}; }}
}}
"""


@dataclass
class Row:
    label: str
    requests: int
    seconds: float
    p99_s: float
    errors: int
    cpu_ms_per_request: float | None = None
    peak_mb: float | None = None

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds

    @property
    def mib_per_second(self) -> float:
        return self.requests * OBJECT_SIZE / self.seconds / (1 << 20)


@contextmanager
def nginx(binary: str, prefix: Path, port: int) -> Iterator[subprocess.Popen[bytes]]:
    """nginx on ``prefix/nginx.conf`` after ``nginx -t``; stopped by its PID."""
    args = ["-p", str(prefix), "-c", str(prefix / "nginx.conf"), "-e", str(prefix / "error.log")]
    checked = subprocess.run([binary, "-t", *args], capture_output=True, text=True, timeout=60)
    if checked.returncode != 0:
        raise SystemExit(f"nginx -t refused {prefix / 'nginx.conf'}:\n{checked.stderr}")
    process = subprocess.Popen([binary, *args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_port(port, process)
        yield process
    finally:
        process.send_signal(signal.SIGQUIT)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(30)


def worker_of(master: int, timeout: float = 30.0) -> int:
    """The one worker of an nginx master (it forks the worker after it starts listening)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
        if children:
            return int(children[0])
        time.sleep(0.05)
    raise SystemExit(f"nginx {master} started no worker")


def status_mb(pid: int, field: str) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return 0.0


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process, from /proc/PID/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Client(threading.Thread):
    """One client on one keep-alive connection: GET the object until the deadline (or MAX_REQUESTS),
    reading each body whole into a preallocated buffer; records the time to the last byte."""

    #: The status every answer must have.
    expected = b"200"

    def __init__(self, port: int, host: str, target: str, start: float, deadline: float):
        super().__init__(daemon=True)
        self.port, self.start_at, self.deadline = port, start, deadline
        self.request = f"GET {target} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode("ascii")
        self.latencies: list[float] = []
        self.errors = 0
        self.buffer = memoryview(bytearray(1 << 20))

    def run(self) -> None:
        sock: socket.socket | None = None
        for _ in range(MAX_REQUESTS):
            if time.monotonic() >= self.deadline:
                break
            try:
                if sock is None:
                    sock = socket.create_connection(("127.0.0.1", self.port), timeout=30)
                began = time.monotonic()
                keep = self.fetch(sock)
                if began >= self.start_at:  # the warm-up is not counted
                    self.latencies.append(time.monotonic() - began)
                if not keep:
                    sock.close()
                    sock = None
            except OSError:
                self.errors += 1
                if sock is not None:
                    sock.close()
                sock = None
        if sock is not None:
            sock.close()

    def fetch(self, sock: socket.socket) -> bool:
        """One request; True if the connection stays open."""
        sock.sendall(self.request)
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = sock.recv(4096)
            if not chunk:
                raise ConnectionResetError("closed before the response head")
            head += chunk
        head, _, body = head.partition(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        version, _, rest = lines[0].partition(b" ")
        if not rest.startswith(self.expected):
            raise ConnectionError(f"unexpected answer {lines[0]!r}")
        headers = {name.strip().lower(): value.strip() for name, _, value in (line.partition(b":") for line in lines[1:])}
        remaining = int(headers[b"content-length"]) - len(body)
        while remaining > 0:
            n = sock.recv_into(self.buffer[: min(remaining, len(self.buffer))])
            if not n:
                raise ConnectionResetError("closed in the body")
            remaining -= n
        return version == b"HTTP/1.1" and headers.get(b"connection", b"").lower() != b"close"  # wsgiref answers HTTP/1.0


def load(port: int, host: str, target: str, clients: int, seconds: float) -> tuple[int, float, float, int]:
    """(requests, seconds, p99 seconds, errors) of ``clients`` clients for ``seconds`` after a warm-up."""
    begin = time.monotonic()
    start, deadline = begin + WARM_UP_S, begin + WARM_UP_S + seconds
    threads = [Client(port, host, target, start, deadline) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(seconds + 120)
    elapsed = time.monotonic() - start
    latencies = sorted(latency for thread in threads for latency in thread.latencies)
    p99 = statistics.quantiles(latencies, n=100)[98] if len(latencies) >= 2 else float("nan")
    return len(latencies), elapsed, p99, sum(thread.errors for thread in threads)


def proxied(binary: str, folder: Path, label: str, buffering: generator.Buffering, origin: str, clients: int, seconds: float) -> Row:
    """The generated file with ``buffering`` in front of ``origin``, under load."""
    prefix = folder / label.replace(" ", "-").replace(",", "").replace("(", "").replace(")", "")
    prefix.mkdir()
    port = free_port()
    saved = generator.PROXY_BUFFERING
    generator.PROXY_BUFFERING = buffering  # the one thing that differs between the rows
    try:
        code = generator.main([str(folder / "b.yaml"), "--listen", f"127.0.0.1:{port}", "--upstream", f"{BUCKET_HOST}=http://{origin}",
                               "-o", str(prefix / "oss.conf")])  # fmt: skip
    finally:
        generator.PROXY_BUFFERING = saved
    if code != 0:
        raise SystemExit("generate-nginx failed")
    (prefix / "nginx.conf").write_text(PROXY_CONF.format(main="", workers=1, prefix=prefix, default_port=free_port(), include=prefix / "oss.conf"))
    with nginx(binary, prefix, port) as process:
        worker = worker_of(process.pid)
        cpu = cpu_seconds(worker)
        requests, elapsed, p99, errors = load(port, DOMAIN, f"/{KEY}", clients, seconds)
        cpu = cpu_seconds(worker) - cpu
        peak = status_mb(worker, "VmHWM")
    return Row(label, requests, elapsed, p99, errors, 1000 * cpu / max(requests, 1), peak)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=8.0, help="measured seconds per row (after a 1 s warm-up)")
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--origin", choices=("nginx", "python"), default="nginx", help="static nginx (default) or osscname.testing.serve_origin")
    args = parser.parse_args()
    binary = shutil.which("nginx") or "/usr/sbin/nginx"
    if not os.access(binary, os.X_OK):
        print("nginx is not installed", file=sys.stderr)
        return 2
    rows: list[Row] = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        folder.chmod(0o755)  # nginx's workers (not root) read the object and write their temporary files here
        (folder / "buckets" / BUCKET).mkdir(parents=True)
        (folder / "buckets" / BUCKET / KEY).write_bytes(os.urandom(OBJECT_SIZE))
        (folder / "b.yaml").write_text(f"version: 1\nbindings:\n  - {{domain: {DOMAIN}, bucket: {BUCKET}, region: us-west-1, mode: rewrite}}\n")
        with origin_running(args.origin, binary, folder) as origin:
            port = int(origin.rsplit(":", 1)[1])
            requests, elapsed, p99, errors = load(port, BUCKET_HOST, f"/{KEY}", args.clients, args.seconds)
            rows.append(Row(f"origin directly ({args.origin})", requests, elapsed, p99, errors))
            print_row(rows[-1], header=True)
            for label, buffering in SETTINGS.items():
                rows.append(proxied(binary, folder, label, buffering, origin, args.clients, args.seconds))
                print_row(rows[-1])
    generated = next(row for row in rows if "generated" in row.label)
    default = next(row for row in rows if row.label == "nginx defaults")
    print(f"\n{args.clients} clients, {OBJECT_SIZE >> 20} MiB object: generated / nginx defaults = {generated.per_second / default.per_second:.2f}x req/s")
    return 0


@contextmanager
def origin_running(kind: str, binary: str, folder: Path) -> Iterator[str]:
    """ADDR:PORT of the origin serving ``folder/buckets``: a static nginx, or the project's Python origin."""
    if kind == "python":
        from osscname.testing import serve_origin

        with serve_origin(folder / "buckets") as running:
            yield running.address
        return
    prefix = folder / "origin"
    prefix.mkdir()
    port = free_port()
    (prefix / "nginx.conf").write_text(ORIGIN_CONF.format(prefix=prefix, port=port, root=folder / "buckets" / BUCKET))
    with nginx(binary, prefix, port):
        yield f"127.0.0.1:{port}"


def print_row(row: Row, header: bool = False) -> None:
    if header:
        print(f"{'':<26}{'req/s':>8}{'MiB/s':>9}{'p99 s':>8}{'nginx ms/req':>14}{'worker peak MB':>16}{'errors':>8}")
    cpu = f"{row.cpu_ms_per_request:>14.2f}" if row.cpu_ms_per_request is not None else f"{'':>14}"
    peak = f"{row.peak_mb:>16.0f}" if row.peak_mb is not None else f"{'':>16}"
    print(f"{row.label:<26}{row.per_second:>8.1f}{row.mib_per_second:>9.0f}{row.p99_s:>8.2f}{cpu}{peak}{row.errors:>8}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
