from __future__ import annotations

from unikernel_rules.publish.push import explain, skopeo_argv


def test_unreachable_names_the_registry_and_address() -> None:
    out = 'time="..." level=fatal msg="... pinging container registry 127.0.0.1:1: Get \\"https://127.0.0.1:1/v2/\\": dial tcp 127.0.0.1:1: connect: connection refused"'
    message = explain(out, "@ci", "127.0.0.1:1", "127.0.0.1:1/a/b:1")
    assert message.startswith("unikernel: cannot reach the registry @ci at 127.0.0.1:1: nothing was published there.")
    assert "connection refused" in message  # skopeo's own last line


def test_plain_http_registry_hint() -> None:
    message = explain("http: server gave HTTP response to HTTPS client", "r:5000", "r:5000", "r:5000/a:1")
    assert "set `insecure` on its alias" in message


def test_authentication_and_denied() -> None:
    auth = explain("... unauthorized: authentication required", "r:5000", "r:5000", "r:5000/a:1")
    assert "refused the credentials" in auth and "skopeo login r:5000" in auth
    denied = explain("... requested access to the resource is denied", "@x", "r", "r/a:1")
    assert "denied pushing r/a:1" in denied
    other = explain("something else\n", "@x", "r", "r/a:1")
    assert other == "unikernel: pushing r/a:1 to the registry @x at r failed. (skopeo: something else)"


def test_skopeo_argv() -> None:
    assert skopeo_argv("/usr/bin/skopeo", "oci:d:artifact", "r:5000/a:1", True, "f") == [
        "/usr/bin/skopeo", "copy", "--retry-times", "1", "--dest-tls-verify=false", "--digestfile", "f",
        "oci:d:artifact", "docker://r:5000/a:1",
    ]
    assert "--dest-tls-verify=false" not in skopeo_argv("s", "a", "b", False, None)
