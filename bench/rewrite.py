"""Streaming a 1 GiB object through a rewrite binding, beside a direct download from the origin.

Run: python bench/rewrite.py [--size MiB]
Aim: peak RSS growth of the middleware's server process <= 32 MiB (the body is streamed, never held).

Three processes, so that each figure belongs to one of them: the local origin
(``osscname.testing.origin``) serving a sparse 1 GiB file from a temporary folder; waitress serving
CustomDomainMiddleware with the bucket host pointed at the origin (this script with ``--serve``); and
this script as the client, reading the body into a reused buffer. The object is read once from the
origin before timing (the first read of a sparse file's holes is slower), then directly and through
the middleware. RSS growth is the server's peak (``VmHWM``) after the download minus its peak after
a warm-up request.
"""

from __future__ import annotations

import argparse
import http.client
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BUCKET_HOST = "bench-bucket.oss-eu-west-1.aliyuncs.com"
BINDINGS = """\
version: 1
bindings:
  - domain: files.bench.example
    bucket: bench-bucket
    region: eu-west-1
    mode: rewrite
"""
MiB = 1 << 20


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args!r} exited with {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listening on {port}")


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def peak_rss(pid: int) -> int:
    """Peak resident set size of a process, in bytes (Linux ``VmHWM``)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmHWM in /proc/PID/status")


def download(port: int, host: str, path: str) -> tuple[int, float]:
    """GET into a reused buffer; (bytes read, seconds)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    buffer = memoryview(bytearray(MiB))
    started = time.perf_counter()
    conn.putrequest("GET", path, skip_host=True)
    conn.putheader("Host", host)
    conn.endheaders()
    response = conn.getresponse()
    assert response.status == 200, response.status
    total = 0
    while True:
        count = response.readinto(buffer)
        if not count:
            break
        total += count
    elapsed = time.perf_counter() - started
    conn.close()
    return total, elapsed


def serve(port: int, origin: str) -> None:
    """The middleware's server process: waitress + CustomDomainMiddleware, until terminated."""
    import waitress

    from osscname import load_bindings
    from osscname.middleware import CustomDomainMiddleware

    def app(environ: dict[str, object], start_response: object) -> list[bytes]:
        start_response("404 Not Found", [("Content-Type", "text/plain")])  # type: ignore[operator]
        return [b"unbound\n"]

    middleware = CustomDomainMiddleware(app, load_bindings(BINDINGS), upstreams={BUCKET_HOST: origin})
    waitress.serve(middleware, host="127.0.0.1", port=port, threads=4, _quiet=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=1024, help="object size in MiB (default 1024)")
    parser.add_argument("--serve", nargs=2, metavar=("PORT", "ORIGIN"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(int(args.serve[0]), args.serve[1])
        return 0

    size = args.size * MiB
    with tempfile.TemporaryDirectory(prefix="osscname-bench-") as folder:
        bucket = Path(folder) / "bench-bucket"
        bucket.mkdir()
        with open(bucket / "big.bin", "wb") as handle:
            handle.truncate(size)  # sparse: no disk space, reads as zeros
        (bucket / "small.txt").write_bytes(b"warm up\n")
        origin_port, proxy_port = free_port(), free_port()
        origin = subprocess.Popen([sys.executable, "-m", "osscname.testing.origin", folder, "--port", str(origin_port)], stderr=subprocess.DEVNULL)
        proxy = subprocess.Popen([sys.executable, __file__, "--serve", str(proxy_port), f"127.0.0.1:{origin_port}"])
        try:
            wait_for_port(origin_port, origin)
            wait_for_port(proxy_port, proxy)
            download(proxy_port, "files.bench.example", "/small.txt")
            baseline = peak_rss(proxy.pid)
            download(origin_port, BUCKET_HOST, "/big.bin")  # the origin's first read of a sparse file is slower
            direct_bytes, direct_time = download(origin_port, BUCKET_HOST, "/big.bin")
            proxied_bytes, proxied_time = download(proxy_port, "files.bench.example", "/big.bin")
            growth = peak_rss(proxy.pid) - baseline
        finally:
            stop(proxy)
            stop(origin)
    assert direct_bytes == proxied_bytes == size, (direct_bytes, proxied_bytes, size)

    print(f"{args.size} MiB object, local origin on 127.0.0.1")
    print(f"{'':34} {'seconds':>8} {'MiB/s':>8}")
    print(f"{'direct from the origin':34} {direct_time:8.2f} {size / MiB / direct_time:8.0f}")
    print(f"{'through waitress + middleware':34} {proxied_time:8.2f} {size / MiB / proxied_time:8.0f}")
    print(f"proxied / direct throughput: {direct_time / proxied_time:.2f}")
    print(f"server peak RSS growth: {growth / MiB:.1f} MiB (baseline peak {baseline / MiB:.1f} MiB; aim <= 32 MiB growth)")
    return 0 if growth <= 32 * MiB else 1


if __name__ == "__main__":
    sys.exit(main())
