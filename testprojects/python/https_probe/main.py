"""An HTTPS client and resolver probe: what a guest needs for `urllib`/`ssl` against a real
server (the CA bundle, DNS, a right clock, entropy). Written for this project; booted by
tests/guest_integration_test.py.

    pants run testprojects/python/https_probe:image -- resolve=pypi.org get=https://pypi.org/simple/

Each argument is `resolve=NAME` (prints `RESOLVED NAME ADDRESS...`) or `get=URL` (prints
`GOT URL STATUS BODY`). The first failure prints `FAILED <arg>: <error>` and exits 1.
"""

import socket
import sys
import urllib.request


def resolve(name: str) -> str:
    infos = socket.getaddrinfo(name, 443, type=socket.SOCK_STREAM)
    return " ".join(sorted({info[4][0] for info in infos}))


def get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=30) as response:
        body = response.read(200).decode("utf-8", "replace")
        return f"{response.status} {body!r}"


def main() -> int:
    for arg in sys.argv[1:]:
        kind, _, value = arg.partition("=")
        try:
            if kind == "resolve":
                print(f"RESOLVED {value} {resolve(value)}", flush=True)
            elif kind == "get":
                print(f"GOT {value} {get(value)}", flush=True)
            else:
                print(f"FAILED {arg}: expected resolve=NAME or get=URL", flush=True)
                return 2
        except Exception as e:  # the probe reports any failure as one line
            print(f"FAILED {arg}: {type(e).__name__}: {e}", flush=True)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
