"""A cookie-keeping HTTP client for an app's forwarded port (no proxy, redirects not followed):
the real-app tests drive flaskr with it, in the VM and in a container."""

from __future__ import annotations

import http.cookiejar
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Callable, Optional, Tuple


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):  # noqa: ANN001
        return None


class Browser:
    def __init__(self, port: int) -> None:
        self.base = f"http://127.0.0.1:{port}"
        self.opener = urllib.request.build_opener(
            urllib.request.ProxyHandler({}),
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()),
            _NoRedirect(),
        )

    def request(self, path: str, form: Optional[dict] = None, timeout: float = 180) -> Tuple[int, str, str]:
        data = urllib.parse.urlencode(form).encode() if form is not None else None
        try:
            with self.opener.open(self.base + path, data=data, timeout=timeout) as resp:
                return resp.status, resp.headers.get("Location", ""), resp.read().decode()
        except urllib.error.HTTPError as e:  # 3xx (not followed) and 4xx/5xx
            return e.code, e.headers.get("Location", ""), e.read().decode()

    def wait_until_serving(self, alive: Callable[[], bool], deadline: float, path: str = "/hello") -> None:
        """Until `path` answers 200; fails if `alive()` turns false or the deadline passes."""
        while time.monotonic() < deadline and alive():
            try:
                if self.request(path, timeout=10)[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(1)
        raise AssertionError("the app did not answer on its port")
