"""A tiny HTTP server in a unikernel: http.server + sqlite3 (stdlib, a C module with a shared
library) + markupsafe (a third-party wheel with compiled speedups)."""

import http.server
import os
import sqlite3
import sys
import time

import markupsafe
from markupsafe import _speedups  # the compiled extension: fail loudly if it is missing


def make_db() -> sqlite3.Connection:
    db = sqlite3.connect(":memory:", check_same_thread=False)
    db.execute("CREATE TABLE visits (path TEXT)")
    return db


DB = make_db()


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        DB.execute("INSERT INTO visits VALUES (?)", (self.path,))
        (count,) = DB.execute("SELECT COUNT(*) FROM visits").fetchone()
        body = f"Hello from a Python unikernel! {markupsafe.escape(self.path)} visits={count}\n"
        data = body.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args) -> None:
        sys.stderr.write("hello_http: " + format % args + "\n")


def main() -> None:
    port = int(sys.argv[1]) if len(sys.argv) > 1 else int(os.environ.get("PORT", "8080"))
    server = http.server.HTTPServer(("", port), Handler)
    # The working directory is writable (RAM-backed), as in a container.
    with open("started", "w") as f:
        f.write(str(os.getpid()))
    print(
        f"hello_http: READY port={port} speedups={_speedups.__name__} "
        f"monotonic_ms={time.monotonic() * 1000:.3f}",
        flush=True,
    )
    server.serve_forever()


if __name__ == "__main__":
    main()
