"""Password hashes for the optional HTTP password, as kept in the [server] table of the configuration.

Only a salted, slow hash is stored (PBKDF2-HMAC-SHA256, which every Python has), so a copy of the
configuration file does not give the password away. The stored form is one line of text:
``pbkdf2_sha256$<iterations>$<salt, base64>$<hash, base64>``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import re

SCHEME = "pbkdf2_sha256"
ITERATIONS = 200_000  # about 0.1 s on a Raspberry Pi 4; checked once per client, then remembered
SALT_BYTES = 16
MIN_ITERATIONS = 10_000
MAX_ITERATIONS = 10_000_000
_FORM = re.compile(rf"{SCHEME}\$([0-9]{{5,8}})\$([A-Za-z0-9+/=]{{16,64}})\$([A-Za-z0-9+/=]{{40,64}})")


def hash_password(password: str, iterations: int = ITERATIONS) -> str:
    """The stored form of ``password``, with a new random salt."""
    salt = os.urandom(SALT_BYTES)
    digest = hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), salt, iterations)
    return f"{SCHEME}${iterations}${_b64(salt)}${_b64(digest)}"


def hash_problem(stored: str) -> str | None:
    """Why ``stored`` is not a hash this module made, or None when it is one."""
    found = _FORM.fullmatch(stored)
    if found is None:
        return f"a hash made by alpaca-focuser password, like {SCHEME}$200000$<salt>$<hash>"
    if not MIN_ITERATIONS <= int(found.group(1)) <= MAX_ITERATIONS:
        return f"a hash of {MIN_ITERATIONS} to {MAX_ITERATIONS} iterations"
    try:
        base64.b64decode(found.group(2), validate=True)
        if len(base64.b64decode(found.group(3), validate=True)) != hashlib.sha256().digest_size:
            return "a hash of 32 bytes; the one given was cut or changed"
    except binascii.Error:
        return "a hash whose salt and digest are base64 text; the one given was cut or changed"
    return None


def verify_password(password: str, stored: str) -> bool:
    """Whether ``password`` is the one ``stored`` was made from, compared in constant time."""
    found = _FORM.fullmatch(stored)
    if found is None:
        return False
    iterations, salt, expected = int(found.group(1)), base64.b64decode(found.group(2)), base64.b64decode(found.group(3))
    digest = hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), salt, iterations)
    return hmac.compare_digest(digest, expected)


def basic_password(header: str) -> str | None:
    """The password of an HTTP Basic ``Authorization`` header (any user name), or None when the
    header is not one; a password over about 750 characters is not read, so it is never hashed."""
    scheme, _, encoded = header.strip().partition(" ")
    if scheme.lower() != "basic" or len(encoded) > 1024:
        return None
    try:
        text = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    _, colon, password = text.partition(":")
    return password if colon else None


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")
