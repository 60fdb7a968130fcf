"""The election fingerprint: one hash over everything that defines an election.

fingerprint = SHAKE-256/32 via :func:`crypto.hashing.hash_bytes` with tag ``election-fingerprint``
over four length-prefixed parts:

1. :func:`encode_value` of the validated, completed parameters (:func:`validate_parameters`) —
   a generic, typed, deterministic encoding of JSON-like values (dictionaries in key order), so a
   field added to the parameters later is covered without changing this module;
2. the credential authority's 32-byte Ed25519 public key;
3. the digest of the authority-signed public credential list
   (:func:`crypto.credentials.credential_list_digest`);
4. the nodes' identity keys in position order, as a length-prefixed sequence
   (:func:`crypto.encoding.encode_seq`).

Every node signs the fingerprint when it joins key generation, voters compare it on their
credential card, the booth and their receipt, and the verifier recomputes it from the record, so a
changed label, choice order, threshold or credential list breaks every node's signature
(``docs/trust.md``). No I/O here.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping, Sequence
from typing import Any

from crypto.ballot import BALLOT_POLICIES
from crypto.credentials import PUBLIC_SIZE, CredentialList, credential_list_digest
from crypto.encoding import encode_seq, encode_uint, lp
from crypto.errors import MalformedInput
from crypto.groups import GROUPS
from crypto.hashing import hash_bytes

FINGERPRINT_DST = "election-fingerprint"
FINGERPRINT_SIZE = 32
TALLY_MODES = ("mixnet", "homomorphic")
DEFAULT_TALLY = "mixnet"

MAX_TITLE = 200
MAX_QUESTION = 1000
MAX_CHOICE = 200
MAX_CHOICES = 1000
MAX_NODES = 64
MAX_WIDTH = 64
MAX_VOTERS = 1_000_000
MAX_ELECTION_ID = 64
MAX_NODE_KEY = 256
MAX_DEPTH = 16

# Directional formatting characters: they make a label display as another (CVE-2021-42574).
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f")


class ParameterError(MalformedInput):
    """An invalid election parameter; ``field`` names it (``choices[2]``), ``key`` is the
    top-level key (``choices``) so that a form can highlight the field."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.key = field.split("[", 1)[0]


# --- the generic encoding ------------------------------------------------------------------------
def encode_value(value: object, _depth: int = 0) -> bytes:
    """Typed, deterministic encoding of a JSON-like value (no floats):

    ``N`` null; ``T``/``F`` booleans; ``I`` + sign byte (0 non-negative, 1 negative) + lp(minimal
    big-endian magnitude) for integers; ``S`` + lp(UTF-8) for strings; ``L`` + uint32 count +
    lp(item) for lists; ``D`` + uint32 count + (lp(key UTF-8), lp(value)) in increasing order of
    the key's UTF-8 bytes for objects (string keys only)."""
    if _depth > MAX_DEPTH:
        raise MalformedInput(f"parameters: nested deeper than {MAX_DEPTH} levels")
    if value is None:
        return b"N"
    if value is True:
        return b"T"
    if value is False:
        return b"F"
    if isinstance(value, int):
        magnitude = abs(value)
        raw = magnitude.to_bytes((magnitude.bit_length() + 7) // 8, "big")
        return b"I" + (b"\x01" if value < 0 else b"\x00") + lp(raw)
    if isinstance(value, str):
        try:
            return b"S" + lp(value.encode("utf-8"))
        except UnicodeEncodeError:
            raise MalformedInput("parameters: a string is not valid Unicode") from None
    if isinstance(value, (list, tuple)):
        items = [lp(encode_value(v, _depth + 1)) for v in value]
        return b"L" + encode_uint(len(items), 4) + b"".join(items)
    if isinstance(value, Mapping):
        pairs = []
        for key, item in value.items():
            if not isinstance(key, str):
                raise MalformedInput("parameters: object keys must be strings")
            pairs.append((key.encode("utf-8"), item))
        pairs.sort(key=lambda kv: kv[0])
        body = b"".join(lp(k) + lp(encode_value(v, _depth + 1)) for k, v in pairs)
        return b"D" + encode_uint(len(pairs), 4) + body
    raise MalformedInput(f"parameters: a {type(value).__name__} cannot be encoded (no floats)")


# --- validation ----------------------------------------------------------------------------------
def _int(params: Mapping[str, Any], key: str, low: int, high: int) -> int:
    value = params[key]
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise ParameterError(key, f"an integer from {low} to {high}, got {value!r}")
    return value


def _text(value: object, field: str, low: int, high: int, newlines: bool = False) -> str:
    if not isinstance(value, str):
        raise ParameterError(field, "must be text")
    if not low <= len(value) <= high:
        raise ParameterError(field, f"{low} to {high} characters, got {len(value)}")
    if value != value.strip():
        raise ParameterError(field, "leading or trailing white space")
    for ch in value:
        if ch in _BIDI_CONTROLS or (
            unicodedata.category(ch) in ("Cc", "Cs") and not (newlines and ch == "\n")
        ):
            raise ParameterError(field, f"control character U+{ord(ch):04X} is not allowed")
    return value


def choice_key(name: str) -> str:
    """What makes two choice names the same: NFC, trimmed, case-folded."""
    return unicodedata.normalize("NFC", name.strip()).casefold()


REQUIRED = ("id", "title", "question", "choices", "group", "n", "t", "width", "policy")
OPTIONAL_DEFAULTS: dict[str, Any] = {"test": False, "tally": DEFAULT_TALLY}
OPTIONAL = ("voters", "created")
KNOWN = frozenset(REQUIRED) | frozenset(OPTIONAL_DEFAULTS) | frozenset(OPTIONAL)


def validate_parameters(params: Mapping[str, Any]) -> dict[str, Any]:
    """Check election parameters and return them completed with defaults (``test`` false,
    ``tally`` "mixnet"). Raises :class:`ParameterError` (a MalformedInput) naming the field:
    unknown or missing keys, an id of 1..64 printable ASCII, title 1..200 and question 0..1000
    characters, 2..1000 choices of 1..200 characters, no control or bidi characters and no
    surrounding white space in any text, no two choices equal after NFC, trimming and case
    folding, a known group, 1 ≤ n ≤ 64, 1 ≤ t ≤ n, 1 ≤ width ≤ 64, a known ballot policy and
    tally mode, ``test`` a boolean, ``voters`` 0..1,000,000 and ``created`` ≥ 0 when present."""
    if not isinstance(params, Mapping):
        raise ParameterError("parameters", "must be an object")
    for key in params:
        if key not in KNOWN:
            raise ParameterError(str(key), "unknown parameter")
    for key in REQUIRED:
        if key not in params:
            raise ParameterError(key, "missing")
    out: dict[str, Any] = {**OPTIONAL_DEFAULTS, **params}

    eid = out["id"]
    if not isinstance(eid, str) or not 1 <= len(eid) <= MAX_ELECTION_ID or not (
        eid.isascii() and eid.isprintable() and " " not in eid
    ):
        raise ParameterError("id", f"1 to {MAX_ELECTION_ID} printable ASCII characters, no spaces")
    _text(out["title"], "title", 1, MAX_TITLE)
    _text(out["question"], "question", 0, MAX_QUESTION, newlines=True)
    choices = out["choices"]
    if not isinstance(choices, list):
        raise ParameterError("choices", "must be a list")
    if not 2 <= len(choices) <= MAX_CHOICES:
        raise ParameterError("choices", f"2 to {MAX_CHOICES} choices, got {len(choices)}")
    seen: dict[str, int] = {}
    for i, name in enumerate(choices):
        _text(name, f"choices[{i}]", 1, MAX_CHOICE)
        key = choice_key(name)
        if key in seen:
            raise ParameterError(f"choices[{i}]", f"the same name as choices[{seen[key]}]")
        seen[key] = i
    if out["group"] not in GROUPS:
        raise ParameterError("group", f"one of {', '.join(GROUPS)}")
    n = _int(out, "n", 1, MAX_NODES)
    _int(out, "t", 1, n)
    _int(out, "width", 1, MAX_WIDTH)
    if out["policy"] not in BALLOT_POLICIES:
        raise ParameterError("policy", f"one of {', '.join(BALLOT_POLICIES)}")
    if not isinstance(out["test"], bool):
        raise ParameterError("test", "true or false")
    if out["tally"] not in TALLY_MODES:
        raise ParameterError("tally", f"one of {', '.join(TALLY_MODES)}")
    if "voters" in out:
        _int(out, "voters", 0, MAX_VOTERS)
    if "created" in out:
        _int(out, "created", 0, 2**63 - 1)
    return out


# --- the fingerprint -----------------------------------------------------------------------------
def compute_fingerprint(
    params: Mapping[str, Any],
    authority: bytes,
    credential_digest: bytes,
    node_keys: Sequence[bytes],
) -> bytes:
    """The fingerprint from its parts (validated; ``node_keys`` in position order, one per node)."""
    full = validate_parameters(params)
    if len(authority) != PUBLIC_SIZE:
        raise MalformedInput(f"fingerprint: the authority key is {PUBLIC_SIZE} bytes")
    if len(credential_digest) != 32:
        raise MalformedInput("fingerprint: the credential list digest is 32 bytes")
    if len(node_keys) != full["n"]:
        raise MalformedInput(f"fingerprint: {len(node_keys)} node keys for n={full['n']} nodes")
    for i, key in enumerate(node_keys):
        if not isinstance(key, bytes) or not 1 <= len(key) <= MAX_NODE_KEY:
            raise MalformedInput(f"fingerprint: node key {i + 1} must be 1 to {MAX_NODE_KEY} bytes")
        if key in node_keys[:i]:
            raise MalformedInput(f"fingerprint: node key {i + 1} repeats an earlier node's key")
    return hash_bytes(
        FINGERPRINT_DST,
        encode_value(full),
        authority,
        credential_digest,
        encode_seq(node_keys),
        size=FINGERPRINT_SIZE,
    )


def election_fingerprint(
    params: Mapping[str, Any], credentials: CredentialList, node_keys: Sequence[bytes]
) -> bytes:
    """The fingerprint of an election whose credential list is ``credentials`` (checked to be for
    this election id, with the same test flag and, if ``voters`` is given, that many keys). The
    list's signature is checked by :func:`crypto.credentials.verify_credential_list`, not here."""
    full = validate_parameters(params)
    if credentials.election_id != full["id"]:
        raise MalformedInput(
            f"fingerprint: the credential list is for election {credentials.election_id!r}, "
            f"not {full['id']!r}"
        )
    if credentials.test != full["test"]:
        raise MalformedInput("fingerprint: the credential list's test flag differs from test")
    if "voters" in full and full["voters"] != len(credentials.credentials):
        raise ParameterError(
            "voters", f"{full['voters']} but the list holds {len(credentials.credentials)}"
        )
    return compute_fingerprint(
        full, credentials.authority, credential_list_digest(credentials), node_keys
    )


# --- the human-readable forms --------------------------------------------------------------------
def format_fingerprint(fingerprint: bytes, groups: int = 16) -> str:
    """Lower-case hex in groups of 4 digits separated by spaces; ``groups=8`` is the short form
    (the first 128 bits: too many for anyone to find other parameters with the same short form)."""
    if len(fingerprint) != FINGERPRINT_SIZE:
        raise ValueError("format_fingerprint: a fingerprint is 32 bytes")
    if not 8 <= groups <= 16:
        raise ValueError("format_fingerprint: 8 to 16 groups")
    text = fingerprint.hex()[: 4 * groups]
    return " ".join(text[i : i + 4] for i in range(0, len(text), 4))


def short_fingerprint(fingerprint: bytes) -> str:
    """The short display form: 8 groups of 4 hex digits (128 bits)."""
    return format_fingerprint(fingerprint, 8)


def fingerprint_matches(fingerprint: bytes, text: str) -> bool:
    """Whether ``text`` (full or short form; spaces, hyphens and case ignored) names
    ``fingerprint``; raises MalformedInput when ``text`` is not a fingerprint form at all."""
    compact = "".join(text.split()).replace("-", "").lower()
    if len(compact) not in (32, 64) or any(c not in "0123456789abcdef" for c in compact):
        raise MalformedInput("fingerprint: expected 32 or 64 hex digits (short or full form)")
    return fingerprint.hex()[: len(compact)] == compact
