"""Testing helpers: a local OSS-like origin and pytest fixtures for it.

Code that proxies to OSS (the middleware's rewrite bindings, generated nginx and CDN configs) is only
proven by a real HTTP round trip, and tests must not need the internet or an Alibaba Cloud account. The
local origin serves a folder as buckets the way OSS does (virtual-hosted Host, Range, ETag, 304/412,
XML errors) and echoes what it received in ``X-Origin-Host`` and ``X-Origin-Uri``, so a test checks a
rewrite at the far end of the proxy. Use it in your own tests::

    # conftest.py at the top of your tests
    pytest_plugins = ["osscname.testing.pytest_plugin"]

    # test_files.py
    from webtest import TestApp
    from osscname.middleware import CustomDomainMiddleware

    def test_logo(oss_origin):                       # an empty folder served as buckets on 127.0.0.1
        (oss_origin.root / "abc-files").mkdir()
        (oss_origin.root / "abc-files" / "logo.png").write_bytes(b"...")
        app = TestApp(CustomDomainMiddleware(my_app, "bindings.yaml",
                      upstreams={"abc-files.oss-cn-hangzhou.aliyuncs.com": oss_origin.address}))
        response = app.get("/logo.png", headers={"Host": "files.abc.com"})  # bound to abc-files, rewrite
        assert response.headers["X-Origin-Host"] == "abc-files.oss-cn-hangzhou.aliyuncs.com"

``oss_origin_factory(root, cnames=None)`` starts more origins (stopped at teardown); outside pytest,
``with serve_origin(root) as origin:`` gives the same :class:`RunningOrigin` (``.root``, ``.host``,
``.port``, ``.address``, ``.url``, ``.stop()``), ``LocalOrigin(root)`` is the bare WSGI app, and
``osscname serve-bucket DIR`` serves a folder from the command line. :mod:`osscname.testing.webtest`
has assertions for WebTest responses.
"""

from .origin import LocalOrigin, RunningOrigin, serve_origin

__all__ = ["LocalOrigin", "RunningOrigin", "serve_origin"]
