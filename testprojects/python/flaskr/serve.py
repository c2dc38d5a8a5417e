"""Our launcher for the vendored flaskr (not part of Flask's tutorial; flaskr itself is unchanged).

flaskr keeps its SQLite database (and, in production, its `config.py` with the secret key) in
Flask's instance folder, and needs `flask --app flaskr init-db` once. In the unikernel image the
instance folder is a persistent volume (see BUILD), so on the first boot this launcher writes a
`config.py` with a random SECRET_KEY there and creates the database; on later boots it finds
both and keeps them. Then it serves the app with Werkzeug's threaded server.
"""

from __future__ import annotations

import os
import secrets
import sys
import time

from flask import Flask
from werkzeug.serving import make_server

import flaskr
from flaskr.db import init_db


def prepare_instance() -> Flask:
    app = flaskr.create_app()
    config = os.path.join(app.instance_path, "config.py")
    if not os.path.exists(config):
        # Flask's deployment advice: a secret key of our own in the instance folder.
        tmp = config + ".tmp"
        with open(tmp, "w") as f:
            f.write(f"SECRET_KEY = {secrets.token_hex(32)!r}\n")
        os.replace(tmp, config)
        app = flaskr.create_app()  # again, now reading config.py
    database = app.config["DATABASE"]
    if not os.path.exists(database):
        with app.app_context():
            init_db()
        print(f"Initialized the database {database}.", flush=True)
    return app


def main() -> int:
    app = prepare_instance()
    port = int(os.environ.get("PORT", "8080"))
    server = make_server("0.0.0.0", port, app, threaded=True)
    # The guest's clock when serving, as the other examples print it (docs/benchmarks.md).
    ready_ms = time.clock_gettime(time.CLOCK_MONOTONIC) * 1000
    print(f"READY flaskr on port {port}, instance {app.instance_path} monotonic_ms={ready_ms:.3f}", flush=True)
    server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
