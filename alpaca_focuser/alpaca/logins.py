"""Checking the HTTP password so that guessing it costs the guesser, not the other clients.

The stored hash is slow on purpose (about 0.1 s of PBKDF2 per try), which is what makes a stolen
configuration file useless to crack, and also what would let anyone who can reach the server tie
up its request threads with wrong guesses. So:

* **A verified credential is remembered.** A client sends the same ``Authorization`` header with
  every request; once it was found right, later requests are recognised by a keyed SHA-256 of the
  header (the key is random and lives only in this process), compared in constant time. A polling
  client is hashed once, and a remembered credential is accepted even while its address is in
  back-off, since checking it costs nothing.
* **Wrong tries are limited per source address.** A few are answered at once (people mistype);
  after that each wrong try makes the address wait twice as long as the last, up to
  BACKOFF_MAX_S, and while it waits its tries are refused without hashing.
* **At most two hashes run at once**: one for suspect addresses, one for all others, so guesses
  from many addresses cannot keep a newcomer's right password waiting. An address is a suspect
  once it sent a wrong password, or found its slot taken, until it gives the right one: a new
  address gets one try at the others' slot, not a stream of them. A request that finds its slot
  taken is refused at once (503, try again) rather than queued, so at most two of the server's
  threads are ever busy hashing.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import math
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from ..passwords import basic_password, verify_password

REMEMBERED_LOGINS = 32  # verified credentials kept; one per client (browser, N.I.N.A., a script...)
FREE_TRIES = 3  # wrong tries an address gets before it must wait
BACKOFF_FIRST_S = 1.0  # the first wait; each further wrong try doubles it
BACKOFF_MAX_S = 60.0
FORGET_AFTER_S = 15 * 60.0  # a suspect address not refused for this long starts afresh
REMEMBERED_ADDRESSES = 1024  # suspect addresses kept; the oldest are forgotten first


class Verdict(enum.Enum):
    ACCEPTED = "accepted"
    MISSING = "missing"  # no credential given: ask for one
    WRONG = "wrong"  # given and wrong (or unreadable)
    BACKING_OFF = "backing off"  # too many wrong tries from this address: not checked
    BUSY = "busy"  # every hashing slot is taken: not checked


@dataclass(frozen=True)
class LoginResult:
    verdict: Verdict
    retry_after_s: int = 0  # for BACKING_OFF and BUSY, and for WRONG when it started a wait
    wrong_in_a_row: int = 0  # for WRONG: the address's wrong tries since its last right one


@dataclass
class _Suspect:
    count: int = 0  # wrong tries in a row (0 when it only found its slot taken)
    last: float = 0.0  # when it was last refused
    wait_until: float = 0.0


class LoginCheck:
    """Decides whether a request's ``Authorization`` header carries the password; thread-safe."""

    def __init__(self, password_hash: str, clock: Callable[[], float] = time.monotonic) -> None:
        self._password_hash = password_hash
        self._clock = clock
        self._key = os.urandom(32)
        self._lock = threading.Lock()
        self._remembered: OrderedDict[bytes, None] = OrderedDict()
        self._suspects: OrderedDict[str, _Suspect] = OrderedDict()
        # One hash at a time (each holds a request thread for about 0.1 s) for the addresses with
        # wrong tries, and one for the others.
        self._suspects_slot = threading.BoundedSemaphore(1)
        self._others_slot = threading.BoundedSemaphore(1)

    def check(self, header: str | None, address: str) -> LoginResult:
        if header is None:
            return LoginResult(Verdict.MISSING)
        digest = hmac.new(self._key, header.encode("utf-8", "surrogateescape"), hashlib.sha256).digest()
        with self._lock:
            if self._remembered_digest(digest):
                return LoginResult(Verdict.ACCEPTED)
            waiting = self._wait_left(address)
            slot = self._suspects_slot if address in self._suspects else self._others_slot
        if waiting > 0:
            return LoginResult(Verdict.BACKING_OFF, retry_after_s=math.ceil(waiting))
        password = basic_password(header)
        if password is None:
            return self._wrong(address)
        if not slot.acquire(blocking=False):
            with self._lock:
                self._entry(address).last = self._clock()
            return LoginResult(Verdict.BUSY, retry_after_s=1)
        try:
            right = verify_password(password, self._password_hash)
        finally:
            slot.release()
        if not right:
            return self._wrong(address)
        with self._lock:
            self._remembered[digest] = None
            while len(self._remembered) > REMEMBERED_LOGINS:
                self._remembered.popitem(last=False)
            self._suspects.pop(address, None)
        return LoginResult(Verdict.ACCEPTED)

    def _remembered_digest(self, digest: bytes) -> bool:
        """Compared with every remembered one in constant time, so the reply time tells nothing."""
        found = None
        for known in self._remembered:
            if hmac.compare_digest(known, digest):
                found = known
        if found is not None:
            self._remembered.move_to_end(found)
        return found is not None

    def _wait_left(self, address: str) -> float:
        failures = self._suspects.get(address)
        if failures is None:
            return 0.0
        now = self._clock()
        if now - failures.last > FORGET_AFTER_S:
            del self._suspects[address]
            return 0.0
        return failures.wait_until - now

    def _wrong(self, address: str) -> LoginResult:
        now = self._clock()
        with self._lock:
            failures = self._entry(address)
            failures.count += 1
            failures.last = now
            wait = 0.0
            if failures.count >= FREE_TRIES:
                wait = min(BACKOFF_FIRST_S * 2 ** min(failures.count - FREE_TRIES, 16), BACKOFF_MAX_S)
                failures.wait_until = max(failures.wait_until, now + wait)
            return LoginResult(Verdict.WRONG, retry_after_s=math.ceil(wait), wrong_in_a_row=failures.count)

    def _entry(self, address: str) -> _Suspect:
        """The address's record, made the newest (and made, when it has none); under the lock."""
        failures = self._suspects.pop(address, None) or _Suspect()
        self._suspects[address] = failures
        while len(self._suspects) > REMEMBERED_ADDRESSES:
            self._suspects.popitem(last=False)
        return failures
