"""RFC 9496 Appendix A test vectors for the ristretto255 backend (data: data/rfc9496.json)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from crypto.errors import InvalidElement
from crypto.groups import group

DATA = Path(__file__).parent / "data" / "rfc9496.json"


def load_vectors() -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(DATA.read_text(encoding="utf-8"))
    assert "rfc9496" in doc["provenance"]["url"]
    return doc


VECTORS = load_vectors()
R = group("ristretto255")


@pytest.mark.parametrize("k", range(16))
def test_multiples_of_the_generator(k: int) -> None:
    expected = bytes.fromhex(VECTORS["multiples"][k])
    assert R.encode(R.base_mul(k)) == expected
    assert R.encode(R.mul(R.generator, k)) == expected
    assert R.decode(expected, allow_identity=True) == R.base_mul(k)


def test_multiples_are_successive_sums() -> None:
    acc = R.identity
    for hex_enc in VECTORS["multiples"]:
        assert R.encode(acc) == bytes.fromhex(hex_enc)
        acc = R.add(acc, R.generator)


@pytest.mark.parametrize(
    "case", VECTORS["invalid"], ids=lambda c: f"{c['reason'][:20]}-{c['encoding'][:8]}"
)
def test_invalid_encodings_rejected(case: dict[str, str]) -> None:
    data = bytes.fromhex(case["encoding"])
    with pytest.raises(InvalidElement, match="ristretto255"):
        R.decode(data, allow_identity=True)
    with pytest.raises(InvalidElement):
        R.batch_decode([R.encode(R.generator), data], allow_identity=True)


def test_invalid_list_covers_every_rfc_category() -> None:
    reasons = {c["reason"] for c in VECTORS["invalid"]}
    assert reasons == {
        "non-canonical field encoding",
        "negative field element",
        "non-square x^2",
        "negative xy value",
        "s = -1, which causes y = 0",
    }


@pytest.mark.parametrize("case", VECTORS["hash_to_group"], ids=lambda c: c["output"][:8])
def test_group_elements_from_uniform_bytes(case: dict[str, str]) -> None:
    # RFC 9496 §4.3.4 through libsodium's crypto_core_ristretto255_from_hash.
    import ctypes

    import pysodium

    out = ctypes.create_string_buffer(32)
    pysodium.sodium.crypto_core_ristretto255_from_hash(out, bytes.fromhex(case["input"]))
    assert out.raw.hex() == case["output"]
    assert R.decode(out.raw) == out.raw
    if "label" in case:
        assert hashlib.sha512(case["label"].encode()).hexdigest() == case["input"]


def test_our_hash_to_element_is_the_rfc_map_over_our_hash() -> None:
    import ctypes

    import pysodium

    from crypto.hashing import hash_bytes

    uniform = hash_bytes("hash-to-group/test", b"data", size=64)
    out = ctypes.create_string_buffer(32)
    pysodium.sodium.crypto_core_ristretto255_from_hash(out, uniform)
    assert R.hash_to_element("test", b"data") == out.raw
    assert R.hash_to_element("test", b"data") != R.hash_to_element("test2", b"data")
