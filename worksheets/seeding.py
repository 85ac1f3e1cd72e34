"""Where a problem's numbers come from: keyed BLAKE2b, block by block; never Python's
hash() or a global random state.

A student's *variant* is a 64-bit keyed hash of (set seed, student id), printed on the
sheet and carried by every token. Only the holder of the secret can compute it, so a
leaked sheet names its student (`trace`), and nobody can work out another student's
numbers from the seed.

A problem's numbers are drawn from a `Stream` keyed by (variant, problem index, type):
block k is BLAKE2b-512(key, label || k), read as eight little-endian 64-bit words. The
same secret, seed, student and index give the same problem on any machine and with any
NumPy: the stream is defined here, in a few lines, because NumPy promises a stable
stream for its bit generators but not for `Generator`'s sampling methods.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
import struct
import warnings

# Bumped whenever a sampler, a key or a statement changes what a (seed, student, index)
# produces: tokens record it, and a token from another version is refused.
GENERATOR_VERSION = "gradsheet-problems/1"

SECRET_ENV = "GRADSHEET_SECRET"
DEVELOPMENT_SECRET = "gradsheet-development-secret-not-for-deployment"

log = logging.getLogger("gradsheet.problemsets")
_unpack8 = struct.Struct("<8Q").unpack


class DevelopmentSecretWarning(RuntimeWarning):
    """Tokens are signed with the public development secret: anyone can forge them."""


def secret_bytes(secret: str | bytes | None = None) -> bytes:
    """`secret`, else $GRADSHEET_SECRET, else the development default (with a warning)."""
    if secret is None:
        secret = os.environ.get(SECRET_ENV) or None
    return signing_secret(secret)


def signing_secret(secret: str | bytes | None) -> bytes:
    """`secret` as bytes, or the development default (with a warning) when it is None;
    never the environment: for a caller (the service) that read the secret from its own
    validated settings."""
    if secret is None:
        _warn_development()
        secret = DEVELOPMENT_SECRET
    if isinstance(secret, str):
        secret = secret.encode()
    if not isinstance(secret, bytes) or not secret:
        raise ValueError(f"{SECRET_ENV}: the secret must be a non-empty string")
    return secret


@functools.cache
def _warn_development() -> None:
    message = (f"{SECRET_ENV} is not set: problem tokens are signed with the public "
               "development secret, so anyone can forge a token and compute any "
               f"student's variant. Set {SECRET_ENV} to a long random string (the same "
               "on every replica) before giving sheets to students.")
    log.warning("!" * 20 + " " + message + " " + "!" * 20)
    warnings.warn(message, DevelopmentSecretWarning, stacklevel=3)


@functools.lru_cache(maxsize=16)
def keys(secret: bytes) -> "Keys":
    return Keys(secret)


class Keys:
    """The keys derived from one secret, one per use, so no two uses share a key."""

    __slots__ = ("variant", "stream", "token")

    def __init__(self, secret: bytes):
        # BLAKE2b keys are at most 64 bytes; a secret may be longer.
        root = hashlib.blake2b(secret, digest_size=64, person=b"gradsheet-root").digest()

        def derive(use: bytes) -> bytes:
            return hashlib.blake2b(use, key=root, digest_size=32).digest()
        self.variant = derive(b"variant")
        self.stream = derive(b"stream")
        self.token = derive(b"token")


VARIANT_HEX_DIGITS = 16


def variant_of(keys: Keys, seed: int, student: str) -> str:
    """The student's variant for this set seed: VARIANT_HEX_DIGITS lowercase hex digits."""
    data = f"{seed}\x1f{student}".encode()
    return hashlib.blake2b(data, key=keys.variant,
                           digest_size=VARIANT_HEX_DIGITS // 2).hexdigest()


class Stream:
    """Deterministic draws for one problem: integers, choices and nice decimals.

    Every method consumes whole 64-bit words, so the draws of a sampler depend only on
    the order in which it asks for them.
    """

    __slots__ = ("_key", "_label", "_block", "_words", "_at")

    def __init__(self, keys: Keys, variant: str, index: int, type_id: str):
        self._key = keys.stream
        self._label = f"{variant}/{index}/{type_id}/".encode()
        self._block = 0
        self._words: tuple = ()
        self._at = 8

    def word(self) -> int:
        """The next uniform 64-bit word."""
        if self._at == 8:
            digest = hashlib.blake2b(self._label + self._block.to_bytes(4, "little"),
                                     key=self._key, digest_size=64).digest()
            self._words = _unpack8(digest)
            self._block += 1
            self._at = 0
        w = self._words[self._at]
        self._at += 1
        return w

    def below(self, n: int) -> int:
        """Uniform in 0..n-1 (the bias of the modulus is below 2**-50 for n < 2**14)."""
        return self.word() % n

    def integer(self, lo: int, hi: int) -> int:
        """Uniform in lo..hi, both included."""
        return lo + self.word() % (hi - lo + 1)

    def choice(self, seq):
        return seq[self.word() % len(seq)]

    def chance(self, p: float) -> bool:
        return self.word() < p * 18446744073709551616.0

    def nonzero(self, lo: int, hi: int) -> int:
        """Uniform over the whole numbers in lo..hi except 0 (lo < 0 < hi)."""
        k = lo + self.word() % (hi - lo)
        return k if k < 0 else k + 1

    def decimal(self, lo: float, hi: float, step: float = 0.1, nonzero: bool = True) -> float:
        """A multiple of `step` in [lo, hi] (0 excluded when `nonzero`), rounded so it
        prints with as many decimals as `step` has."""
        a, b = round(lo / step), round(hi / step)
        k = self.nonzero(a, b) if nonzero and a < 0 < b else self.integer(a, b)
        return round(k * step, _places(step)) + 0.0

    def shuffled(self, seq) -> list:
        out = list(seq)
        for i in range(len(out) - 1, 0, -1):
            j = self.word() % (i + 1)
            out[i], out[j] = out[j], out[i]
        return out


@functools.cache
def _places(step: float) -> int:
    """Decimals of a step such as 0.5 or 0.1 (1) or 0.25 (2)."""
    text = repr(step)
    return len(text.split(".")[1].rstrip("0")) if "." in text else 0
