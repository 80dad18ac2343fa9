"""Testing helpers: a local OSS-like origin, pytest fixtures, and WebTest assertions.

Test your own bindings without the internet::

    # conftest.py
    pytest_plugins = ["osscname.testing.pytest_plugin"]

    def test_logo(oss_origin):                       # a folder served as buckets on 127.0.0.1
        (oss_origin.root / "abc-files").mkdir()
        (oss_origin.root / "abc-files" / "logo.png").write_bytes(b"...")
        app = CustomDomainMiddleware(my_app, "bindings.yaml",
                                     upstreams={"abc-files.oss-cn-hangzhou.aliyuncs.com": oss_origin.address})
        ...

``serve_origin(root)`` is the same origin as a context manager, ``osscname serve-bucket DIR`` as a
command; :mod:`osscname.testing.webtest` has assertions for WebTest responses.
"""

from .origin import LocalOrigin, RunningOrigin, serve_origin

__all__ = ["LocalOrigin", "RunningOrigin", "serve_origin"]
