"""crypto.fingerprint: the generic parameter encoding, parameter validation (each field named),
and the election fingerprint binding parameters, authority, credential list and node keys."""

from __future__ import annotations

import random
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crypto import credentials as cr
from crypto import fingerprint as fpr
from crypto.errors import MalformedInput

PARAMS: dict[str, Any] = {
    "id": "e0123456789ab",
    "title": "Board election 2026",
    "question": "Who should chair the board?\nPick one.",
    "choices": ["Ada Lovelace", "Grace Hopper", "Émilie du Châtelet"],
    "group": "secp256k1",
    "n": 3,
    "t": 2,
    "width": 1,
    "policy": "last-ballot-counts",
    "voters": 4,
    "created": 1764460800,
}
NODES = [bytes([i]) * 64 for i in (1, 2, 3)]


def cred(seed: int) -> cr.Credential:
    return cr.generate_credential(random.Random(seed))


def clist(eid: str = "e0123456789ab", count: int = 4, test: bool = False) -> cr.CredentialList:
    keys = [cred(500 + i).public for i in range(count)]
    return cr.sign_credential_list(cred(400).private, eid, keys, test=test)


CLIST = clist()


def fp(params: dict[str, Any] | None = None, nodes: list[bytes] | None = None,
       credentials: cr.CredentialList | None = None) -> bytes:
    return fpr.election_fingerprint(
        PARAMS if params is None else params,
        credentials or CLIST,
        NODES if nodes is None else nodes,
    )


def test_encode_value_known_answers() -> None:
    assert fpr.encode_value(None) == b"N"
    assert fpr.encode_value(True) == b"T" and fpr.encode_value(False) == b"F"
    assert fpr.encode_value(0) == b"I\x00\x00\x00\x00\x00"
    assert fpr.encode_value(256) == b"I\x00\x00\x00\x00\x02\x01\x00"
    assert fpr.encode_value(-1) == b"I\x01\x00\x00\x00\x01\x01"
    assert fpr.encode_value("é") == b"S\x00\x00\x00\x02\xc3\xa9"
    assert fpr.encode_value([1, "a"]) == (
        b"L\x00\x00\x00\x02" + b"\x00\x00\x00\x07I\x00\x00\x00\x00\x01\x01"
        + b"\x00\x00\x00\x06S\x00\x00\x00\x01a"
    )
    assert fpr.encode_value({"b": 1, "a": None}) == (
        b"D\x00\x00\x00\x02" + b"\x00\x00\x00\x01a\x00\x00\x00\x01N"
        + b"\x00\x00\x00\x01b\x00\x00\x00\x07I\x00\x00\x00\x00\x01\x01"
    )


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)


@given(JSON, JSON)
def test_encode_value_is_injective_on_json_values(a: Any, b: Any) -> None:
    # Equal JSON values (True is not 1 in JSON) have equal encodings, different ones different.
    assert (fpr.encode_value(a) == fpr.encode_value(b)) == (_typed(a) == _typed(b))
    assert fpr.encode_value(a) == fpr.encode_value(a)


def _typed(v: Any) -> Any:
    if isinstance(v, bool):
        return ("bool", v)
    if isinstance(v, dict):
        return ("dict", sorted((k, _typed(x)) for k, x in v.items()))
    if isinstance(v, list):
        return ("list", [_typed(x) for x in v])
    return (type(v).__name__, v)


def test_encode_value_is_order_independent_for_objects_and_rejects_floats() -> None:
    assert fpr.encode_value({"a": 1, "b": 2}) == fpr.encode_value({"b": 2, "a": 1})
    assert fpr.encode_value([1, 2]) != fpr.encode_value([2, 1])
    for bad in (1.5, {"a": 0.0}, b"bytes", {1: "x"}, "\ud800"):
        with pytest.raises(MalformedInput):
            fpr.encode_value(bad)
    deep: Any = 0
    for _ in range(fpr.MAX_DEPTH + 2):
        deep = [deep]
    with pytest.raises(MalformedInput, match="nested"):
        fpr.encode_value(deep)


def test_validate_fills_defaults_and_accepts_the_example() -> None:
    full = fpr.validate_parameters(PARAMS)
    assert full["test"] is False and full["tally"] == "mixnet"
    assert fpr.validate_parameters({**PARAMS, "test": True, "tally": "homomorphic"})["test"]


INVALID: list[tuple[dict[str, Any], str]] = [
    ({**PARAMS, "colour": "red"}, "colour"),
    ({k: v for k, v in PARAMS.items() if k != "question"}, "question"),
    ({**PARAMS, "id": ""}, "id"),
    ({**PARAMS, "id": "e 1"}, "id"),
    ({**PARAMS, "title": ""}, "title"),
    ({**PARAMS, "title": "x" * 201}, "title"),
    ({**PARAMS, "title": " padded"}, "title"),
    ({**PARAMS, "title": "a\u202eb"}, "title"),
    ({**PARAMS, "title": "line\nbreak"}, "title"),
    ({**PARAMS, "question": "q" * 1001}, "question"),
    ({**PARAMS, "question": "bell\x07"}, "question"),
    ({**PARAMS, "choices": ["only one"]}, "choices"),
    ({**PARAMS, "choices": "Ada,Grace"}, "choices"),
    ({**PARAMS, "choices": ["c"] * 1001}, "choices"),
    ({**PARAMS, "choices": ["Ada", "ada"]}, "choices[1]"),
    ({**PARAMS, "choices": ["A", "B", "Émilie", "E\u0301milie"]}, "choices[3]"),
    ({**PARAMS, "choices": ["A", ""]}, "choices[1]"),
    ({**PARAMS, "choices": ["A", "B "]}, "choices[1]"),
    ({**PARAMS, "choices": ["A", 2]}, "choices[1]"),
    ({**PARAMS, "choices": ["A", "x" * 201]}, "choices[1]"),
    ({**PARAMS, "group": "curve25519"}, "group"),
    ({**PARAMS, "n": 0}, "n"),
    ({**PARAMS, "n": 65}, "n"),
    ({**PARAMS, "n": True}, "n"),
    ({**PARAMS, "t": 0}, "t"),
    ({**PARAMS, "t": 4}, "t"),
    ({**PARAMS, "t": "2"}, "t"),
    ({**PARAMS, "width": 0}, "width"),
    ({**PARAMS, "width": 1.0}, "width"),
    ({**PARAMS, "policy": "every-ballot-counts"}, "policy"),
    ({**PARAMS, "test": 1}, "test"),
    ({**PARAMS, "tally": "borda"}, "tally"),
    ({**PARAMS, "voters": -1}, "voters"),
    ({**PARAMS, "created": -5}, "created"),
]


@pytest.mark.parametrize(("params", "field"), INVALID, ids=[f for _, f in INVALID])
def test_validate_rejects_and_names_the_field(params: dict[str, Any], field: str) -> None:
    with pytest.raises(fpr.ParameterError) as info:
        fpr.validate_parameters(params)
    assert info.value.field == field
    assert info.value.key == field.split("[")[0]
    assert str(info.value).startswith(f"{field}: ")
    assert isinstance(info.value, MalformedInput)


def test_fingerprint_is_deterministic_and_32_bytes() -> None:
    assert fp() == fp() and len(fp()) == 32
    # Defaults spelled out give the same fingerprint as defaults left out.
    assert fp({**PARAMS, "test": False, "tally": "mixnet"}) == fp()
    # Key order of the parameters does not matter.
    assert fp(dict(reversed(list(PARAMS.items())))) == fp()


CHANGES: list[tuple[str, dict[str, Any]]] = [
    ("title", {"title": "Board election 2027"}),
    ("question", {"question": "Who?"}),
    ("label swapped", {"choices": ["Grace Hopper", "Ada Lovelace", "Émilie du Châtelet"]}),
    ("label renamed", {"choices": ["Ada Lovelace", "Grace Hopper", "Emilie du Chatelet"]}),
    ("group", {"group": "ristretto255"}),
    ("width", {"width": 2}),
    ("n", {"n": 4}),
    ("t", {"t": 3}),
    ("policy", {"policy": "first-ballot-counts"}),
    ("tally", {"tally": "homomorphic"}),
    ("created", {"created": 1764460801}),
]


@pytest.mark.parametrize(("name", "change"), CHANGES, ids=[n for n, _ in CHANGES])
def test_every_parameter_changes_the_fingerprint(name: str, change: dict[str, Any]) -> None:
    nodes = [*NODES, b"\x04" * 64] if change.get("n") == 4 else NODES
    assert fp({**PARAMS, **change}, nodes) != fp(), name


def test_credentials_authority_and_nodes_change_the_fingerprint() -> None:
    base = fp()
    other_keys = cr.sign_credential_list(
        cred(400).private, PARAMS["id"], [cred(600 + i).public for i in range(4)]
    )
    other_authority = cr.sign_credential_list(cred(401).private, PARAMS["id"], CLIST.credentials)
    assert fp(credentials=other_keys) != base
    assert fp(credentials=other_authority) != base
    assert fp(nodes=[NODES[1], NODES[0], NODES[2]]) != base
    assert fp(nodes=[NODES[0], NODES[1], b"\x09" * 64]) != base
    test_list = clist(test=True)
    assert fp({**PARAMS, "test": True}, credentials=test_list) != fp(
        credentials=clist(test=False)
    )


def test_fingerprint_cross_checks_the_credential_list_and_nodes() -> None:
    with pytest.raises(MalformedInput, match="for election"):
        fp(credentials=clist(eid="e-other"))
    with pytest.raises(MalformedInput, match="test flag"):
        fp(credentials=clist(test=True))
    with pytest.raises(fpr.ParameterError, match="voters"):
        fp(credentials=clist(count=5))
    with pytest.raises(MalformedInput, match="node keys"):
        fp(nodes=NODES[:2])
    with pytest.raises(MalformedInput, match="repeats"):
        fp(nodes=[NODES[0], NODES[1], NODES[0]])
    with pytest.raises(MalformedInput):
        fpr.compute_fingerprint(PARAMS, b"\x01" * 31, bytes(32), NODES)
    with pytest.raises(MalformedInput):
        fpr.compute_fingerprint(PARAMS, b"\x01" * 32, bytes(31), NODES)
    with pytest.raises(fpr.ParameterError):
        fp({**PARAMS, "choices": ["A", "a"]})


def test_fingerprint_known_answer() -> None:
    # Pins the whole construction (encoding, tag, order of parts); any change is a format change.
    expected = fpr.compute_fingerprint(PARAMS, bytes(range(32)), bytes(32), NODES)
    from crypto.encoding import encode_seq
    from crypto.hashing import hash_bytes

    manual = hash_bytes(
        "election-fingerprint",
        fpr.encode_value({**PARAMS, "test": False, "tally": "mixnet"}),
        bytes(range(32)),
        bytes(32),
        encode_seq(NODES),
    )
    assert expected == manual


def test_display_forms_and_matching() -> None:
    f = fp()
    full, short = fpr.format_fingerprint(f), fpr.short_fingerprint(f)
    assert len(full.split(" ")) == 16 and all(len(g) == 4 for g in full.split(" "))
    assert full.replace(" ", "") == f.hex()
    assert short == full[: len(short)] and len(short.split(" ")) == 8
    assert fpr.fingerprint_matches(f, full)
    assert fpr.fingerprint_matches(f, short.upper().replace(" ", "-"))
    other = bytes(32)
    assert not fpr.fingerprint_matches(other, full)
    assert not fpr.fingerprint_matches(other, short)
    for bad in ("", f.hex()[:30], f.hex()[:63] + "g", f.hex() + "00"):
        with pytest.raises(MalformedInput):
            fpr.fingerprint_matches(f, bad)
    with pytest.raises(ValueError):
        fpr.format_fingerprint(f[:31])
