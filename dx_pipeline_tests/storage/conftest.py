"""A real S3-compatible HTTP server on 127.0.0.1 for the object-storage warehouse tests.

moto's server mode is the S3 REST API over HTTP (the same requests s3fs sends to AWS or MinIO),
not an in-process mock of boto: every read, listing and upload below crosses a socket. One
server per test session; every test gets its own bucket.
"""

from __future__ import annotations

import logging
import uuid

import pytest

AWS_VARIABLES = (
    "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN", "AWS_DEFAULT_REGION", "AWS_REGION", "AWS_PROFILE",
    "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE",
)


@pytest.fixture(scope="session")
def s3_endpoint():
    """``http://127.0.0.1:<port>`` of a moto S3 server running for the session."""
    pytest.importorskip("s3fs", reason="the object-storage tests need s3fs (pip install -e '.[test]')")
    pytest.importorskip("moto.server", reason="the object-storage tests need moto[server]")
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one log line per request otherwise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def s3_environment(mp: pytest.MonkeyPatch, endpoint: str) -> None:
    """The standard AWS variables pointing at the test server, nothing from the developer's
    own AWS configuration."""
    for name in AWS_VARIABLES:
        mp.delenv(name, raising=False)
    mp.setenv("AWS_ENDPOINT_URL", endpoint)
    mp.setenv("AWS_ACCESS_KEY_ID", "dx-test")
    mp.setenv("AWS_SECRET_ACCESS_KEY", "dx-test-secret")
    mp.setenv("AWS_DEFAULT_REGION", "us-east-1")
    mp.setenv("AWS_CONFIG_FILE", "/nonexistent")
    mp.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
    mp.delenv("DX_WAREHOUSE_URL", raising=False)


def new_bucket(endpoint: str) -> str:
    """A fresh, empty bucket on the server; returns its name."""
    import s3fs

    name = f"dx-{uuid.uuid4().hex[:12]}"
    s3fs.S3FileSystem(endpoint_url=endpoint, use_listings_cache=False).mkdir(name)
    return name


@pytest.fixture
def bucket(s3_endpoint, monkeypatch) -> str:
    """A fresh bucket, with the AWS variables of this test pointing at the server."""
    s3_environment(monkeypatch, s3_endpoint)
    return new_bucket(s3_endpoint)
