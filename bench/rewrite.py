"""Streaming objects through a rewrite binding, beside direct downloads from the origin.

Run: python bench/rewrite.py [--size MiB] [--clients N --object MiB --requests N]
(the gunicorn row needs gunicorn, in ``pip install 'osscname[test]'``)

1. One 1 GiB object, directly from the origin, through the WSGI middleware under waitress and through
   the ASGI middleware under uvicorn. Aim: peak RSS growth of each server process <= 32 MiB (the body
   is streamed, never held).
2. 64 concurrent clients, each fetching a 10 MiB object 8 times, directly, through the WSGI middleware
   under gunicorn (gthread) and through the ASGI middleware under uvicorn, each with ``--workers``
   processes (default 2; gunicorn's threads split the clients between them): aggregate throughput, p99
   of the per-request time, peak RSS growth. Aim: the ASGI middleware at least the WSGI throughput with
   a tenth of its memory growth. The last row is the file generate-nginx writes for the same binding,
   in a real nginx with as many worker processes (when nginx is installed), for scale.

Separate processes, so that each figure belongs to one of them: the local origin
(``osscname.testing.origin``) serving sparse files from a temporary folder; each server wrapping a
middleware with the bucket host pointed at the origin (this script with ``--serve``); and this script
as the client, reading bodies into reused buffers (the concurrent clients are asyncio tasks on raw
sockets, so the client costs little CPU). The same origin and the same client serve every row. Objects
are read once from the origin before timing (the first read of a sparse file's holes is slower).

The CPU time the servers' workers spent per GB relayed is printed beside the load rows: on a machine
whose cores the origin, the client and the server share, it is what decides their throughput.
RSS growth is measured the same way for every server: the peak (``VmHWM``) summed over the processes
that serve requests (gunicorn's and uvicorn's workers, not the master, the supervisor or
multiprocessing's resource tracker; the process itself for waitress and a one-worker uvicorn) after
the downloads, minus the same sum after warm-up. Warm-up waits until every worker process exists, then
sends waves of as many concurrent requests for a tiny object as the load has clients, until a wave
leaves every worker's peak where it was: each worker has then imported, started and opened what the
load opens (gthread's threads, one upstream connection per client), so the growth
is what streaming the bodies costs, not a worker that was still starting when the baseline was taken.
The loop and HTTP parser uvicorn ran with (uvloop and httptools when installed, as with
``uvicorn[standard]``) are printed with the figures. Every load loop is bounded in count and in time
(``--limit``), and talks to 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from _processes import free_port, wait_for_port

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


def serving_pids(pid: int) -> list[int]:
    """The processes that serve requests: a gunicorn master's or uvicorn supervisor's workers (not
    multiprocessing's resource tracker, which uvicorn's spawned workers bring), else the process itself."""
    children = [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    workers = [child for child in children if b"resource_tracker" not in Path(f"/proc/{child}/cmdline").read_bytes()]
    return workers or [pid]


def served_rss(pids: list[int]) -> int:
    return sum(peak_rss(pid) for pid in pids)


def cpu_seconds(pids: list[int]) -> float:
    """User plus system CPU time the processes used so far (``/proc/PID/stat``)."""
    ticks = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        ticks += int(fields[11]) + int(fields[12])  # utime, stime: fields 14 and 15 of proc(5)
    return ticks / os.sysconf("SC_CLK_TCK")


def warmed_up(port: int, process: subprocess.Popen[bytes], workers: int, clients: int) -> list[int]:
    """Wait for ``workers`` worker processes (0: the process serves itself), then send waves of
    ``clients`` concurrent requests for a tiny object until one leaves every worker's peak RSS
    unchanged (at most 10 waves, 30 s); the serving PIDs."""
    deadline = time.monotonic() + 30
    while len(pids := serving_pids(process.pid)) < workers or (workers and pids == [process.pid]):
        if time.monotonic() > deadline:
            raise TimeoutError(f"{workers} workers did not start")
        time.sleep(0.05)
    before = [peak_rss(pid) for pid in pids]
    for _ in range(10):
        asyncio.run(_load(port, "files.bench.example", "/small.txt", clients, 1, 30))
        after = [peak_rss(pid) for pid in pids]
        if after == before or time.monotonic() > deadline:
            break
        before = after
    return pids


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


def unbound_wsgi(environ: dict[str, object], start_response: object) -> list[bytes]:
    start_response("404 Not Found", [("Content-Type", "text/plain")])  # type: ignore[operator]
    return [b"unbound\n"]


async def unbound_asgi(scope: dict[str, object], receive: object, send: object) -> None:
    if scope["type"] == "http":
        await send({"type": "http.response.start", "status": 404, "headers": [(b"content-type", b"text/plain")]})  # type: ignore[operator]
        await send({"type": "http.response.body", "body": b"unbound\n"})  # type: ignore[operator]


def asgi_app() -> object:
    """The ASGI middleware over the bench binding, its upstream from ``OSSCNAME_BENCH_ORIGIN`` (uvicorn's
    factory, so that each of its worker processes makes its own)."""
    from osscname import load_bindings
    from osscname.middleware.asgi import ASGICustomDomainMiddleware

    return ASGICustomDomainMiddleware(unbound_asgi, load_bindings(BINDINGS), upstreams={BUCKET_HOST: os.environ["OSSCNAME_BENCH_ORIGIN"]})


def serve(server: str, port: int, origin: str, workers: int, threads: int) -> None:
    """A server process, until terminated: waitress or gunicorn (gthread) with the WSGI middleware,
    uvicorn with the ASGI one, or the local origin (its listen backlog raised from socketserver's 5)."""
    if server == "origin":  # ORIGIN is the folder; 64 clients connecting at once must not wait on SYN retries
        from osscname.testing import origin as local_origin

        local_origin.ThreadedWSGIServer.request_queue_size = 256
        local_origin.main([origin, "--port", str(port)])
        return
    if server == "uvicorn":
        import uvicorn

        os.environ["OSSCNAME_BENCH_ORIGIN"] = origin
        if workers == 1:
            uvicorn.run(asgi_app(), host="127.0.0.1", port=port, log_level="warning", lifespan="off")  # type: ignore[arg-type]
        else:
            uvicorn.run("rewrite:asgi_app", factory=True, workers=workers, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
        return
    from osscname import load_bindings
    from osscname.middleware import CustomDomainMiddleware

    middleware = CustomDomainMiddleware(unbound_wsgi, load_bindings(BINDINGS), upstreams={BUCKET_HOST: origin})
    if server == "waitress":
        import waitress

        waitress.serve(middleware, host="127.0.0.1", port=port, threads=4, _quiet=True)
        return
    from gunicorn.app.base import BaseApplication

    class Gunicorn(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            for name, value in {"bind": f"127.0.0.1:{port}", "worker_class": "gthread", "workers": workers, "threads": threads,
                                "loglevel": "warning", "accesslog": None}.items():  # fmt: skip
                self.cfg.set(name, value)

        def load(self) -> object:
            return middleware

    Gunicorn().run()


@contextmanager
def nginx_process(binary: str, folder: Path, origin_port: int, workers: int) -> Iterator[tuple[int, subprocess.Popen[bytes]]]:
    """A real nginx with ``workers`` worker processes serving the file generate-nginx writes for the
    bench binding (its bucket host pointed at the origin); stopped by PID."""
    from nginx_proxy import PROXY_CONF

    from osscname.generators import nginx as generator

    folder.chmod(0o755)  # nginx's workers (not root) write their temporary files under it
    prefix = folder / "nginx"
    prefix.mkdir(mode=0o755)
    port = free_port()
    (prefix / "b.yaml").write_text(BINDINGS)
    if generator.main([str(prefix / "b.yaml"), "--listen", f"127.0.0.1:{port}", "--upstream", f"{BUCKET_HOST}=http://127.0.0.1:{origin_port}",
                       "-o", str(prefix / "oss.conf")]) != 0:  # fmt: skip
        raise SystemExit("generate-nginx failed")
    (prefix / "nginx.conf").write_text(PROXY_CONF.format(main="", workers=workers, prefix=prefix, default_port=free_port(), include=prefix / "oss.conf"))
    args = ["-p", str(prefix), "-c", str(prefix / "nginx.conf"), "-e", str(prefix / "error.log")]
    subprocess.run([binary, "-t", *args], check=True, capture_output=True, timeout=60)
    process = subprocess.Popen([binary, *args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_port(port, process)
        yield port, process
    finally:
        stop(process)


@contextmanager
def server_process(server: str, origin_port: int, workers: int = 1, threads: int = 4) -> Iterator[tuple[int, subprocess.Popen[bytes]]]:
    """This script serving the middleware with ``server``; stopped by PID (gunicorn's master and uvicorn's
    supervisor stop their workers)."""
    port = free_port()
    process = subprocess.Popen([sys.executable, __file__, "--serve", server, str(port), f"127.0.0.1:{origin_port}", str(workers), str(threads)])
    try:
        wait_for_port(port, process)
        yield port, process
    finally:
        stop(process)


async def _get(port: int, host: str, path: str, buffer: memoryview) -> tuple[int, float]:
    """One GET on a fresh connection (``Connection: close``), the whole answer read into ``buffer``
    over and over; (body bytes, seconds)."""
    loop = asyncio.get_running_loop()
    started = time.perf_counter()
    with socket.socket() as sock:
        sock.setblocking(False)
        await loop.sock_connect(sock, ("127.0.0.1", port))
        await loop.sock_sendall(sock, f"GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
        head = b""  # the first bytes, until the end of the response head is in them
        total = 0
        while True:
            count = await loop.sock_recv_into(sock, buffer)
            if not count:
                break
            if b"\r\n\r\n" not in head:
                head += bytes(buffer[: min(count, 4096)])
            total += count
    assert head.split(b" ", 2)[1:2] == [b"200"] and b"\r\n\r\n" in head, head[:200]
    return total - (head.index(b"\r\n\r\n") + 4), time.perf_counter() - started


async def _load(port: int, host: str, path: str, clients: int, requests: int, limit: float) -> tuple[int, float, list[float]]:
    """``clients`` tasks, each making up to ``requests`` GETs, none started after ``limit`` seconds;
    (body bytes, wall seconds, per-request seconds)."""
    deadline = time.monotonic() + limit
    times: list[float] = []

    async def client() -> int:
        buffer = memoryview(bytearray(MiB))
        received = 0
        for _ in range(requests):
            if time.monotonic() > deadline:
                break
            count, seconds = await _get(port, host, path, buffer)
            received += count
            times.append(seconds)
        return received

    started = time.perf_counter()
    received = sum(await asyncio.gather(*(client() for _ in range(clients))))
    return received, time.perf_counter() - started, times


def concurrent(port: int, host: str, path: str, args: argparse.Namespace) -> tuple[float, float, int]:
    """(MB/s, p99 seconds, requests) for the concurrent clients; every request must get the whole object."""
    received, wall, times = asyncio.run(_load(port, host, path, args.clients, args.requests, args.limit))
    assert received == len(times) * args.object * MiB, (received, len(times))
    times.sort()
    return received / wall / 1e6, times[min(len(times) - 1, int(len(times) * 0.99))], len(times)


def uvicorn_stack() -> str:
    """What uvicorn's ``auto`` loop and http settings pick here (uvloop and httptools when importable)."""
    import importlib.util

    loop = "uvloop" if importlib.util.find_spec("uvloop") else "asyncio"
    return f"{loop}, {'httptools' if importlib.util.find_spec('httptools') else 'h11'}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=1024, help="single object size in MiB (default 1024)")
    parser.add_argument("--clients", type=int, default=64, help="concurrent clients (default 64)")
    parser.add_argument("--object", type=int, default=10, help="their object's size in MiB (default 10)")
    parser.add_argument("--requests", type=int, default=8, help="requests per concurrent client (default 8)")
    parser.add_argument("--limit", type=float, default=120.0, help="seconds after which no client starts another request (default 120)")
    parser.add_argument("--workers", type=int, default=2, help="worker processes of gunicorn and uvicorn under load (default 2, one per core here)")
    parser.add_argument("--serve", nargs=5, metavar=("SERVER", "PORT", "ORIGIN", "WORKERS", "THREADS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve[0], int(args.serve[1]), args.serve[2], int(args.serve[3]), int(args.serve[4]))
        return 0

    size = args.size * MiB
    single: list[tuple[str, float, int]] = []  # (row, seconds, RSS growth)
    loaded: list[tuple[str, float, float, int, int, float]] = []  # (row, MB/s, p99 s, requests, RSS growth, CPU s)
    with tempfile.TemporaryDirectory(prefix="osscname-bench-") as folder:
        bucket = Path(folder) / "bench-bucket"
        bucket.mkdir()
        for name, length in (("big.bin", size), ("10m.bin", args.object * MiB)):
            with open(bucket / name, "wb") as handle:
                handle.truncate(length)  # sparse: no disk space, reads as zeros
        (bucket / "small.txt").write_bytes(b"warm up\n")
        origin_port = free_port()
        origin = subprocess.Popen([sys.executable, __file__, "--serve", "origin", str(origin_port), folder, "1", "0"], stderr=subprocess.DEVNULL)
        try:
            wait_for_port(origin_port, origin)
            download(origin_port, BUCKET_HOST, "/big.bin")  # the origin's first read of a sparse file is slower
            direct_bytes, direct_time = download(origin_port, BUCKET_HOST, "/big.bin")
            assert direct_bytes == size, (direct_bytes, size)
            single.append(("direct from the origin", direct_time, 0))
            for row, server in (("waitress + WSGI middleware", "waitress"), ("uvicorn + ASGI middleware", "uvicorn")):
                with server_process(server, origin_port) as (port, process):
                    pids = warmed_up(port, process, 0, 1)
                    baseline = served_rss(pids)
                    proxied_bytes, proxied_time = download(port, "files.bench.example", "/big.bin")
                    assert proxied_bytes == size, (row, proxied_bytes, size)
                    single.append((row, proxied_time, served_rss(pids) - baseline))

            path = "/10m.bin"
            rate, p99, count = concurrent(origin_port, BUCKET_HOST, path, args)
            loaded.append(("direct from the origin", rate, p99, count, 0, 0.0))
            rows = [("gunicorn gthread + WSGI middleware", "gunicorn"), ("uvicorn + ASGI middleware", "uvicorn")]
            try:
                import gunicorn  # noqa: F401
            except ImportError:
                print("gunicorn is not installed (pip install 'osscname[bench]'): no gthread row", file=sys.stderr)
                rows = rows[1:]
            for row, server in rows:
                with server_process(server, origin_port, args.workers, -(-args.clients // args.workers)) as (port, process):
                    pids = warmed_up(port, process, args.workers if server == "gunicorn" or args.workers > 1 else 0, args.clients)
                    baseline, cpu = served_rss(pids), cpu_seconds(pids)
                    rate, p99, count = concurrent(port, "files.bench.example", path, args)
                    loaded.append((row, rate, p99, count, served_rss(pids) - baseline, cpu_seconds(pids) - cpu))
            binary = shutil.which("nginx") or "/usr/sbin/nginx"
            if os.access(binary, os.X_OK):  # the generated nginx config, the same workers, clients and origin
                with nginx_process(binary, Path(folder), origin_port, args.workers) as (port, process):
                    pids = warmed_up(port, process, args.workers, args.clients)
                    baseline, cpu = served_rss(pids), cpu_seconds(pids)
                    rate, p99, count = concurrent(port, "files.bench.example", path, args)
                    loaded.append(("nginx (generate-nginx)", rate, p99, count, served_rss(pids) - baseline, cpu_seconds(pids) - cpu))
            else:
                print("nginx is not installed: no nginx row", file=sys.stderr)
        finally:
            stop(origin)

    print(f"{args.size} MiB object, local origin on 127.0.0.1")
    print(f"{'':34} {'seconds':>8} {'MiB/s':>8} {'RSS growth MiB':>15}")
    for row, seconds, growth in single:
        print(f"{row:34} {seconds:8.2f} {size / MiB / seconds:8.0f} {growth / MiB if growth else 0:15.1f}")
    print()
    print(f"{args.clients} concurrent clients x {args.requests} requests, {args.object} MiB object, {args.workers} worker process(es) per server")
    print(f"uvicorn's loop and HTTP parser: {uvicorn_stack()}")
    print(f"{'':34} {'MB/s':>8} {'p99 s':>8} {'requests':>9} {'RSS growth MB':>14} {'CPU s/GB':>9}")
    for row, rate, p99, count, growth, cpu in loaded:
        cost = f"{cpu / (count * args.object * MiB / 1e9):9.2f}" if cpu else f"{'':9}"
        print(f"{row:34} {rate:8.0f} {p99:8.2f} {count:9d} {growth / 1e6:14.1f} {cost}")
    worst = max(growth for _, _, growth in single)
    print()
    print(f"largest single-stream RSS growth: {worst / MiB:.1f} MiB (aim <= 32 MiB)")
    if len(loaded) >= 3:
        wsgi, asgi = loaded[1], loaded[2]
        print(f"ASGI / WSGI under load: throughput {asgi[1] / wsgi[1]:.2f} (aim >= 1), RSS growth {asgi[4] / max(wsgi[4], 1):.2f} (aim <= 0.1)")
    return 0 if worst <= 32 * MiB else 1


if __name__ == "__main__":
    sys.exit(main())
