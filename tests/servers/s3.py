"""An S3-compatible server (moto's) on a loopback port, with one bucket."""

from __future__ import annotations

import logging

from moto.server import ThreadedMotoServer
from pyarrow import fs

ACCESS_KEY_ID = "vigil-test"
SECRET_ACCESS_KEY = "vigil-test-secret"
REGION = "us-east-1"


class S3Server:
    def __init__(self, port: int, bucket: str = "vigil") -> None:
        self.port = port
        self.bucket = bucket
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)

    @property
    def endpoint_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> S3Server:
        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # a line per request
        self._server.start()
        client = fs.S3FileSystem(
            access_key=ACCESS_KEY_ID,
            secret_key=SECRET_ACCESS_KEY,
            region=REGION,
            endpoint_override=f"127.0.0.1:{self.port}",
            scheme="http",
            allow_bucket_creation=True,
        )
        client.create_dir(self.bucket)
        return self

    def stop(self) -> None:
        self._server.stop()
