"""Small ASGI applications wrapped in the ASGI middleware, run by tests/test_asgi.py under uvicorn and hypercorn."""
