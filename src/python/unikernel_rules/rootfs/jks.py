"""A Java trust store (JKS) of PEM CA certificates, written reproducibly at build time.

Java does not read PEM bundles (JDK 17 has no PEM `KeyStore`), so a Java image's CA
certificates (Debian's and the image's own, the same list as `/etc/ssl/certs/ca-certificates.crt`)
go into its runtime's `lib/security/cacerts` as a JKS key store of trusted-certificate entries,
what Debian's `ca-certificates-java` makes with `keytool` at install time. JDK 17 loads JKS
files wherever it expects PKCS12 (`keystore.type.compat=true`, the default).

The format (OpenJDK's `sun.security.provider.JavaKeyStore.engineStore`): magic `0xFEEDFEED`,
version 2, the entry count; per trusted certificate: tag 2, alias (Java `writeUTF`), creation
time (ms), certificate type `X.509` (`writeUTF`), DER length and bytes; then the SHA-1 of the
password as UTF-16BE, the words "Mighty Aphrodite" and everything before. Creation times are 0
and entries sorted by alias, so the file depends on the certificates only. Hand-written because
no well-kept Python library writes JKS (pyjks is unmaintained), and it is 20 lines.
"""

from __future__ import annotations

import hashlib
import re
import ssl
import struct
from typing import Iterable, List, Tuple

MAGIC = 0xFEEDFEED
VERSION = 2
TRUSTED_CERT_TAG = 2
PASSWORD = "changeit"  # the JDK's and Debian's password of `cacerts` (integrity only)
_PEM = re.compile(rb"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----", re.S)


def pem_certificates(pem: bytes) -> List[bytes]:
    """The DER bytes of every `CERTIFICATE` block of a PEM file, in order."""
    return [ssl.PEM_cert_to_DER_cert(block.decode("ascii")) for block in _PEM.findall(pem)]


def _utf(text: str) -> bytes:
    data = text.encode("utf-8")  # Java's modified UTF-8 equals UTF-8 for these aliases (no NUL)
    return struct.pack(">H", len(data)) + data


def jks_trust_store(certificates: Iterable[Tuple[str, bytes]], password: str = PASSWORD) -> bytes:
    """A JKS file of trusted-certificate entries from (alias, DER) pairs. Aliases are
    lowercased, as Java's JKS does; duplicates are an error (ValueError)."""
    entries = sorted((alias.lower(), der) for alias, der in certificates)
    aliases = [alias for alias, _ in entries]
    if len(set(aliases)) != len(aliases):
        raise ValueError(f"duplicate JKS aliases: {sorted({a for a in aliases if aliases.count(a) > 1})}")
    body = struct.pack(">III", MAGIC, VERSION, len(entries))
    for alias, der in entries:
        body += struct.pack(">I", TRUSTED_CERT_TAG) + _utf(alias) + struct.pack(">q", 0)
        body += _utf("X.509") + struct.pack(">I", len(der)) + der
    digest = hashlib.sha1(password.encode("utf-16-be") + b"Mighty Aphrodite" + body).digest()
    return body + digest
