"""The bindings files the benchmarks load: shaped like a large real one, generated as YAML text.

Shared settings sit in ``defaults``, each binding takes a few lines, mainland regions carry an ICP
number, one binding in ten rewrites from a folder of its bucket, one in fifty is a wildcard, and
ninety bindings share a bucket.
"""

from __future__ import annotations

REGIONS = ("cn-hangzhou", "cn-shanghai", "ap-southeast-1", "eu-central-1", "us-west-1")


def bindings_yaml(count: int, *, nginx: bool = False) -> str:
    """``count`` bindings, each with ``index: index.html`` from ``defaults``.

    ``nginx=True``: a file generate-nginx can express whole. nginx cannot answer ``subdir: redirect``
    (the default), so only the rewrite bindings get the index, with ``subdir: serve``; about one
    redirect in four gets a prefix, so that the file has redirects with and without one."""
    lines = ["version: 1", "defaults:", "  mode: redirect", "  status: 301", *([] if nginx else ["  index: index.html"]), "bindings:"]
    for i in range(count):
        region = REGIONS[i % len(REGIONS)]
        star = "*." if i % 50 == 7 else ""
        lines += [f'  - domain: "{star}h{i}.site{i // 100}.example.com"', f"    bucket: bucket-{i // 90}", f"    region: {region}"]
        if region.startswith("cn-"):
            lines.append("    icp: 浙ICP备12345678号-1")
        if i % 10 == 3:
            lines += ["    mode: rewrite", "    prefix: public/"]
            if nginx:
                lines += ["    index: index.html", "    subdir: serve"]
        elif nginx and i % 4 == 1:
            lines.append("    prefix: assets/")
    return "\n".join(lines) + "\n"
