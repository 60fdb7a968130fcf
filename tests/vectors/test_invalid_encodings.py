"""Every group decoder of the registry, on every backend it has, against the generated
invalid-encoding vectors of ``data/invalid_encodings.json`` (off-curve and twist points, wrong
lengths, bad prefixes, non-canonical coordinates, the identity, small-subgroup and mixed-order
points on M-221 and E-521, ristretto255's non-canonical encodings). The generator is
``gen_invalid_encodings.py``; the stored file must be exactly what it makes."""

from __future__ import annotations

import json
import os
from typing import Any

import pytest

from crypto.errors import InvalidElement
from crypto.groups import _BACKENDS, GROUPS, group, native
from tests.vectors.gen_invalid_encodings import OUT, render

VECTORS: dict[str, Any] = json.loads(OUT.read_text())["groups"]
CASES = [(name, backend) for name in GROUPS for backend, _m, _c in _BACKENDS[name]]


def decoder(name: str, backend: str) -> Any:
    if backend == "native" and not native.AVAILABLE:
        message = f"the native core is not installed (./dev install): {native.IMPORT_ERROR}"
        if os.environ.get("CI"):
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    return group(name, backend)


def test_the_stored_vectors_are_what_the_generator_makes() -> None:
    assert OUT.read_text() == render()


def test_every_group_of_the_registry_has_vectors_of_every_kind() -> None:
    assert set(VECTORS) == set(GROUPS)
    for name, cases in VECTORS.items():
        reasons = {case["reason"] for case in cases["invalid"]}
        assert {"wrong-length", "identity", "non-canonical"} <= reasons, name
        if name != "ristretto255":
            assert {"bad-prefix", "off-curve"} <= reasons, name
        if cases["cofactor"] != 1:
            assert {"small-subgroup", "mixed-order"} <= reasons, name
            orders = {c["comment"] for c in cases["invalid"] if c["reason"] == "small-subgroup"}
            assert len(orders) == cases["cofactor"].bit_length() - 1, name  # orders 2, 4(, 8)


@pytest.mark.parametrize(("name", "backend"), CASES)
def test_the_decoder_rejects_every_invalid_encoding(name: str, backend: str) -> None:
    g = decoder(name, backend)
    cases = VECTORS[name]
    assert g.element_size == cases["element_size"]
    for case in cases["invalid"]:
        data = bytes.fromhex(case["encoding"])
        with pytest.raises(InvalidElement):
            g.decode(data)
        if case["reason"] != "identity":
            with pytest.raises(InvalidElement):
                g.decode(data, allow_identity=True)
        if len(data) == g.element_size:  # in a column, too (other lengths break the column)
            with pytest.raises(InvalidElement):
                g.decode_many(bytes.fromhex(cases["valid"][0]["encoding"]) + data)


@pytest.mark.parametrize(("name", "backend"), CASES)
def test_the_decoder_accepts_the_valid_encodings_and_the_identity_where_allowed(
    name: str, backend: str
) -> None:
    g = decoder(name, backend)
    cases = VECTORS[name]
    generator = g.decode(bytes.fromhex(cases["valid"][0]["encoding"]))
    assert g.equal(generator, g.generator)
    doubled = g.decode(bytes.fromhex(cases["valid"][1]["encoding"]))
    assert g.equal(doubled, g.add(g.generator, g.generator))
    for case in cases["valid"]:
        assert g.encode(g.decode(bytes.fromhex(case["encoding"]))).hex() == case["encoding"]
    [identity] = [c for c in cases["invalid"] if c["reason"] == "identity"]
    assert g.is_identity(g.decode(bytes.fromhex(identity["encoding"]), allow_identity=True))
