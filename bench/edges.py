"""nginx, Caddy and HAProxy side by side at 10k and 100k bindings: generation, config check, loading,
memory and redirect throughput.

Run: python bench/edges.py   (aims at 100k: Caddy and HAProxy load in <= 2 s and <= 256 MB)

The three generators get the same bindings file (``bench/_files.py``: redirects with and without a
prefix, one rewrite in ten, one wildcard in fifty, ninety bindings per bucket), with the rewrites'
folders ``subdir: not_found`` so that every target can express every binding. For each server and size
this prints:

* ``write s``: the generator as a command, loading included (best of two);
* ``check s`` / ``peak MB``: ``nginx -t``, ``caddy validate``, ``haproxy -c`` (GNU time's peak RSS);
* ``load s``: from starting the server to its first answer, as wall time and as the CPU the server
  used (the machine is shared: the CPU figure is the one that does not depend on the neighbours);
* ``RSS MB``: the resident memory of the server's largest process after start-up;
* ``bound`` / ``unbound`` req/s: ``wrk`` for 5 s, 16 connections, on loopback, for one bound redirect
  host from the middle of the file and for a host that is not bound (which goes to the stand-in app).

Every server is started and stopped here, by PID, on 127.0.0.1 only.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from collections.abc import Callable

from _files import bindings_yaml
from _processes import free_port, verdict
from nginx import WRAPPER_GENERATED, rss_mb, timed_child

COUNTS = (10_000, 100_000)
AIM_LOAD_S, AIM_MB = 2.0, 256.0
WRK = ("-t1", "-c16", "-d5s")
#: The stand-ins for the user's own configuration around each generated file.
CADDY_APP = {"handle": [{"handler": "static_response", "status_code": 200, "body": "app\n"}]}
HAPROXY_USER = """\
defaults
    mode http
    timeout client 10s
    timeout server 10s
    timeout connect 5s
backend app
    http-request return status 200 content-type text/plain string "app\\n"
"""


@dataclass
class Row:
    server: str
    kept: int
    size_mb: float
    write_s: float
    check_s: float
    check_mb: float
    load_s: float
    load_cpu_s: float
    rss_mb: float
    bound_rps: float
    unbound_rps: float


def command(name: str) -> list[str]:
    script = Path(sys.executable).with_name(name)
    return [str(script)] if script.exists() else [sys.executable, "-m", f"osscname.generators.{name.split('-')[1]}"]


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process and its reaped children so far, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(value) for value in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def largest_rss(pid: int) -> float:
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return max([rss_mb(pid), *(rss_mb(int(child)) for child in children)])


def started(argv: list[str], port: int, env: dict[str, str] | None = None, timeout: float = 300.0) -> tuple[subprocess.Popen[bytes], float, float]:
    """Start a server; wait until it answers on ``port``; (process, wall seconds, CPU seconds)."""
    start = time.perf_counter()
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            raise SystemExit(f"{argv[0]} exited with {process.returncode} while starting")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
                sock.sendall(b"GET / HTTP/1.0\r\nHost: unbound.invalid\r\n\r\n")
                if sock.recv(64).startswith(b"HTTP/1."):
                    break
        except OSError:
            pass
        if time.monotonic() > deadline:
            process.kill()
            raise SystemExit(f"{argv[0]} did not answer on port {port}")
        time.sleep(0.02)
    wall = time.perf_counter() - start
    children = Path(f"/proc/{process.pid}/task/{process.pid}/children").read_text().split()
    return process, wall, cpu_seconds(process.pid) + sum(cpu_seconds(int(child)) for child in children)


def requests_per_second(port: int, host: str) -> float:
    wrk = shutil.which("wrk")
    if wrk is None:
        return float("nan")
    done = subprocess.run([wrk, *WRK, "-H", f"Host: {host}", f"http://127.0.0.1:{port}/a/b.png?x=1"], capture_output=True, text=True, timeout=120)
    match = re.search(r"Requests/sec:\s+([0-9.]+)", done.stdout)
    return float(match[1]) if match else float("nan")


def best_write(argv: list[str]) -> float:
    return min(timed_child(argv)[0] for _ in range(2))


def checked(argv: list[str]) -> tuple[float, float]:
    seconds, peak, status = timed_child(argv)
    if status != 0:
        raise SystemExit(f"{' '.join(argv)} failed")
    return seconds, peak


Measure = Callable[[Path, Path, int, str, str], Row]


def bench_nginx(folder: Path, source: Path, kept: int, bound: str, unbound: str) -> Row:
    binary = shutil.which("nginx") or "/usr/sbin/nginx"
    port = free_port()
    out = folder / "oss.conf"
    write_s = best_write([*command("generate-nginx"), str(source), "--resolver", "127.0.0.53", "--listen", f"127.0.0.1:{port}", "-o", str(out)])
    (folder / "nginx.conf").write_text(WRAPPER_GENERATED.format(prefix=folder, port=port, include=out))
    conf = ["-p", str(folder), "-c", str(folder / "nginx.conf"), "-e", str(folder / "error.log")]
    check_s, check_mb = checked([binary, "-t", *conf])
    process, load_s, load_cpu = started([binary, *conf], port)
    try:
        rss = largest_rss(process.pid)
        return Row("nginx", kept, out.stat().st_size / 1e6, write_s, check_s, check_mb, load_s, load_cpu, rss,
                   requests_per_second(port, bound), requests_per_second(port, unbound))  # fmt: skip
    finally:
        process.send_signal(signal.SIGQUIT)
        process.wait(60)


def bench_caddy(folder: Path, source: Path, kept: int, bound: str, unbound: str) -> Row:
    binary = shutil.which("caddy") or "/usr/bin/caddy"
    port = free_port()
    out = folder / "osscname.json"
    write_s = best_write([*command("generate-caddy"), str(source), "--listen", f"127.0.0.1:{port}", "-o", str(out)])
    config = json.loads(out.read_text())
    server = config["apps"]["http"]["servers"]["osscname"]
    server["routes"] = [server["routes"][0], CADDY_APP]
    config["admin"] = {"disabled": True}
    config["storage"] = {"module": "file_system", "root": str(folder / "storage")}
    (folder / "caddy.json").write_text(json.dumps(config))
    state = {"HOME": str(folder), "XDG_DATA_HOME": str(folder / "data"), "XDG_CONFIG_HOME": str(folder / "config")}
    # env(1) execs caddy in the same process, so GNU time still measures caddy itself
    check_s, check_mb = checked(["env", *(f"{name}={value}" for name, value in state.items()), binary, "validate", "--config", str(folder / "caddy.json")])
    process, load_s, load_cpu = started([binary, "run", "--config", str(folder / "caddy.json")], port, {**os.environ, **state})
    try:
        rss = largest_rss(process.pid)
        return Row("caddy", kept, out.stat().st_size / 1e6, write_s, check_s, check_mb, load_s, load_cpu, rss,
                   requests_per_second(port, bound), requests_per_second(port, unbound))  # fmt: skip
    finally:
        process.terminate()
        process.wait(60)


def bench_haproxy(folder: Path, source: Path, kept: int, bound: str, unbound: str) -> Row:
    binary = shutil.which("haproxy") or "/usr/sbin/haproxy"
    port = free_port()
    argv = [*command("generate-haproxy"), str(source), "--listen", f"127.0.0.1:{port}", "--default-backend", "app", "--maps-dir", str(folder), "-o", str(folder)]
    write_s = best_write(argv)
    (folder / "user.cfg").write_text(HAPROXY_USER)
    files = ["-f", str(folder / "user.cfg"), "-f", str(folder / "osscname.cfg")]
    check_s, check_mb = checked([binary, "-c", *files])
    process, load_s, load_cpu = started([binary, "-db", *files], port)
    try:
        rss = largest_rss(process.pid)
        size = sum((folder / name).stat().st_size for name in ("osscname.cfg", "osscname-hosts.map", "osscname-records.map")) / 1e6
        return Row("haproxy", kept, size, write_s, check_s, check_mb, load_s, load_cpu, rss, requests_per_second(port, bound), requests_per_second(port, unbound))
    finally:
        process.terminate()
        process.wait(60)


BENCHES: dict[str, Measure] = {"nginx": bench_nginx, "caddy": bench_caddy, "haproxy": bench_haproxy}


def main() -> int:
    missing = [name for name in BENCHES if not shutil.which(name) and not os.access(f"/usr/sbin/{name}", os.X_OK)]
    if missing:
        print(f"not installed: {', '.join(missing)} (./dev test installs them)", file=sys.stderr)
        return 2
    if not shutil.which("wrk"):
        print("wrk is not installed (apt-get install wrk): req/s are left out", file=sys.stderr)
    print(f"load average at start: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    print(f"{'bindings':>8}  {'server':<8}{'file MB':>8}{'write s':>8}{'check s':>8}{'peak MB':>8}{'load s':>8}{'cpu s':>7}{'RSS MB':>8}"
          f"{'bound/s':>9}{'unbound/s':>10}")  # fmt: skip
    results: dict[int, list[Row]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for count in COUNTS:
            source = Path(tmp) / f"b{count}.yaml"
            source.write_text(bindings_yaml(count, nginx=True).replace("subdir: serve", "subdir: not_found"), encoding="utf-8")
            middle = count // 2 + 1  # h{i}: i % 10 != 3 and i % 50 != 7 is an exact redirect
            bound = f"h{middle}.site{middle // 100}.example.com"
            results[count] = []
            for name, measure in BENCHES.items():
                folder = Path(tmp) / f"{name}{count}"
                folder.mkdir()
                row = measure(folder, source, count, bound, "www.unbound.example.net")
                results[count].append(row)
                print(f"{count:>8}  {row.server:<8}{row.size_mb:>8.1f}{row.write_s:>8.2f}{row.check_s:>8.2f}{row.check_mb:>8.0f}{row.load_s:>8.2f}"
                      f"{row.load_cpu_s:>7.2f}{row.rss_mb:>8.0f}{row.bound_rps:>9.0f}{row.unbound_rps:>10.0f}")  # fmt: skip
    print()
    for row in results[COUNTS[-1]]:
        if row.server in ("caddy", "haproxy"):
            print(f"100k aims, {row.server}: loads in {row.load_s:.2f} s wall ({verdict(row.load_s, AIM_LOAD_S)}), {row.load_cpu_s:.2f} s CPU "
                  f"({verdict(row.load_cpu_s, AIM_LOAD_S)}; aim <= {AIM_LOAD_S} s), {row.rss_mb:.0f} MB ({verdict(row.rss_mb, AIM_MB)}; aim <= {AIM_MB:.0f} MB)")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
