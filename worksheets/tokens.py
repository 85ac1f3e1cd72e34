"""Problem tokens: everything needed to regenerate one problem, signed.

A token is itsdangerous's `payload.signature`, where the payload is the URL-safe
base64 of the JSON list

    [generator version, variant, problem index, type id, options, reveal]

(with the template's hash appended for a problem of an instructor's template, so that
grading refuses a template changed since the sheet was made), and the signature is
HMAC-SHA256 under a key derived from GRADSHEET_SECRET. Grading
reads the token, regenerates the problem and its key, and marks the answers: no state,
so any replica grades any token. The payload is readable (it holds nothing a student
does not already know); a changed byte or another secret fails the signature.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from dataclasses import dataclass

import orjson
from itsdangerous import BadSignature, Signer
from itsdangerous.encoding import base64_decode

from worksheets.errors import TokenError
from worksheets.seeding import GENERATOR_VERSION, VARIANT_HEX_DIGITS, Keys

MAX_TOKEN_CHARS = 4096
_VARIANT = re.compile(f"[0-9a-f]{{{VARIANT_HEX_DIGITS}}}")


@dataclass(frozen=True, slots=True)
class Ticket:
    """What a token says: the problem at `index` of the sheet of `variant`."""

    version: str
    variant: str
    index: int
    type_id: str
    options: dict
    reveal: bool
    template: str | None = None   # the hash of the template a template problem came from


def _signer(keys: Keys) -> Signer:
    # The key is already derived for tokens alone, so itsdangerous need not derive
    # another on every call (which doubled the cost of a token).
    return Signer(keys.token, salt=b"gradsheet.problem", digest_method=hashlib.sha256,
                  key_derivation="none")


_URLSAFE = bytes.maketrans(b"+/", b"-_")


def _unpadded_b64(data: bytes) -> bytes:
    """base64.urlsafe_b64encode(data) without its "=" padding, in one step."""
    return binascii.b2a_base64(data, newline=False).translate(_URLSAFE).rstrip(b"=")


class TokenSigner:
    """Signs and reads the tokens of one secret."""

    __slots__ = ("_signer", "_mac")

    def __init__(self, keys: Keys):
        self._signer = _signer(keys)
        # itsdangerous's signature (HMAC-SHA256 under its derived key, URL-safe base64
        # without padding) with the HMAC's key schedule done once: a set signs a token
        # per problem, and the schedule was a third of each signature
        self._mac = hmac.new(self._signer.derive_key(), digestmod=hashlib.sha256)

    def sign(self, variant: str, index: int, type_id: str, options: dict, reveal: bool,
             template: str | None = None) -> str:
        body = [GENERATOR_VERSION, variant, index, type_id, options, int(reveal)]
        payload = _unpadded_b64(orjson.dumps(body if template is None else [*body, template]))
        mac = self._mac.copy()
        mac.update(payload)
        return (payload + self._signer.sep + _unpadded_b64(mac.digest())).decode()

    def _unsign(self, signed: bytes) -> bytes:
        """The payload of `signed`, as itsdangerous's Signer.unsign checks it (the
        signature decoded, then compared in constant time), with the keyed HMAC copied."""
        payload, sep, signature = signed.rpartition(self._signer.sep)
        if not sep:
            raise BadSignature("no separator")
        try:
            signature = base64_decode(signature)
        except Exception:  # as itsdangerous: a signature that does not decode is wrong
            raise BadSignature("not base64") from None
        mac = self._mac.copy()
        mac.update(payload)
        if not hmac.compare_digest(signature, mac.digest()):
            raise BadSignature("the signature does not match")
        return payload

    def read(self, token) -> Ticket:
        """The token's ticket; TokenError when it is not one of ours, unchanged."""
        if type(token) is not str:
            raise TokenError(f"must be a token string, not {type(token).__name__}")
        if len(token) > MAX_TOKEN_CHARS:
            raise TokenError(f"is {len(token)} characters long; a token has fewer than "
                             f"{MAX_TOKEN_CHARS}")
        try:
            raw = self._unsign(token.encode())
        except (BadSignature, UnicodeEncodeError):
            raise TokenError(
                "the signature does not match: the token was changed, or it was made by "
                "a gradsheet with another GRADSHEET_SECRET") from None
        try:
            body = orjson.loads(base64.urlsafe_b64decode(raw + b"=" * (-len(raw) % 4)))
            version, variant, index, type_id, options, reveal, *template = body
        except (binascii.Error, orjson.JSONDecodeError, ValueError, TypeError):
            raise TokenError("the payload is not a problem token") from None
        if version != GENERATOR_VERSION:
            raise TokenError(
                f"was made by problem generator {version!r}; this gradsheet runs "
                f"{GENERATOR_VERSION!r} and cannot regenerate that problem")
        if (type(variant) is not str or type(index) is not int or type(type_id) is not str
                or type(options) is not dict or reveal not in (0, 1) or len(template) > 1
                or template and type(template[0]) is not str):
            raise TokenError("the payload is not a problem token")
        if not _VARIANT.fullmatch(variant):
            raise TokenError(f"names variant {variant[:40]!r}; a variant is "
                             f"{VARIANT_HEX_DIGITS} lowercase hex digits")
        return Ticket(version, variant, index, type_id, options, bool(reveal),
                      template[0] if template else None)
