"""Verificatum's own shuffle proofs (``shared/vectors/verificatum/``) through
``crypto.verificatum.directory``.

Provenance: three sets written by Verificatum Mix-Net 3.1.0 (vcr 97974cf, vmn 9d9c45e) on
2026-11-21, each accepted by ``vmnv -shuffle`` (see the README beside them). They must verify with
our code, re-encode byte for byte, and every tampering in the negative table must be rejected.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from crypto.errors import InvalidElement, InvalidProof, MalformedInput
from crypto.report import Report
from crypto.verificatum.directory import (
    ProtInfoFile,
    check_shuffle_directory,
    parse_protinfo,
    read_shuffle_directory,
    render_protinfo,
    verify_shuffle_directory,
)
from crypto.verificatum.export import export_directory
from tests.vectors.shared import vectors_dir

#: der.rho of each set, as printed by ``vmnv -shuffle -t der.rho`` (vectors README).
RHO = {
    "secp256k1-n10-w1": "7994615b3dce1a975681a1907dfe07bed79cad9978f2d94968a150c236479fd1",
    "secp256k1-n12-w2": "7685a06a8e79ad11709af30ce651c8cd37ab7e68cff7a6afbca09635815c9313",
    "p256-n10-w1": "033370f9b3e46e404fa49dbb5488460d17ed382d6831c554b7e5810b51c7c9eb",
}
SETS = {
    # name: (auxsid, N, width)
    "secp256k1-n10-w1": ("default", 10, 1),
    "secp256k1-n12-w2": ("shufw2", 12, 2),
    "p256-n10-w1": ("p256test", 10, 1),
}




def load_set(name: str) -> tuple[str, dict[str, bytes]]:
    """(protInfo.xml text, file map of nizkp/<auxsid>/) of one vector set."""
    root = vectors_dir() / name
    proof_dir = root / "nizkp" / SETS[name][0]
    files = {
        p.relative_to(proof_dir).as_posix(): p.read_bytes()
        for p in sorted(proof_dir.rglob("*"))
        if p.is_file()
    }
    assert files, f"{proof_dir} is empty"
    return (root / "protInfo.xml").read_text(encoding="utf-8"), files


def failed(report: Report) -> list[str]:
    return [f"{c.name}: {c.detail}" for c in report.failures]


# --- protInfo.xml -------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(SETS))
def test_protinfo_of_vectors_parses_and_round_trips(name: str) -> None:
    text, _ = load_set(name)
    info = parse_protinfo(text)
    assert (info.sid, info.nopart, info.thres, info.width) == ("MyDemo", 3, 3, SETS[name][2])
    assert (info.statdist, info.vbitlenro, info.ebitlenro) == (100, 256, 256)
    assert [p.name for p in info.parties] == ["Party01", "Party02", "Party03"]
    assert info.parties[0].pkey.startswith("SignaturePKeyHeuristic(RSA")
    rendered = render_protinfo(info)
    assert parse_protinfo(rendered) == info
    assert render_protinfo(parse_protinfo(rendered)) == rendered
    assert "\n<protocol>" not in rendered and rendered.startswith("<protocol>\n<version>3.1.0<")


def _minimal() -> str:
    text, _ = load_set("secp256k1-n10-w1")
    return render_protinfo(parse_protinfo(text))


PROTINFO_MUTATIONS: dict[str, Callable[[str], str]] = {
    "not XML": lambda t: t.replace("</protocol>", ""),
    "doctype": lambda t: '<!DOCTYPE protocol [<!ENTITY x "y">]>\n' + t,
    "root element": lambda t: t.replace("<protocol>", "<protocolx>").replace(
        "</protocol>", "</protocolx>"
    ),
    "missing element": lambda t: t.replace("<vbitlen>128</vbitlen>\n", ""),
    "element order": lambda t: t.replace(
        "<prg>SHA-256</prg>\n<rohash>SHA-256</rohash>",
        "<rohash>SHA-256</rohash>\n<prg>SHA-256</prg>",
    ),
    "whitespace in value": lambda t: t.replace("<sid>MyDemo</sid>", "<sid> MyDemo</sid>"),
    "non-integer": lambda t: t.replace("<statdist>100</statdist>", "<statdist>1e2</statdist>"),
    "leading zero": lambda t: t.replace("<statdist>100</statdist>", "<statdist>0100</statdist>"),
    "nopart vs parties": lambda t: t.replace("<nopart>3</nopart>", "<nopart>2</nopart>"),
    "thres above nopart": lambda t: t.replace("<thres>3</thres>", "<thres>4</thres>"),
    "party field missing": lambda t: t.replace("<srtbyrole>anyrole</srtbyrole>\n", "", 1),
    "extra element": lambda t: t.replace("</protocol>", "<extra>1</extra>\n</protocol>"),
    "keywidth 2": lambda t: t.replace("<keywidth>1</keywidth>", "<keywidth>2</keywidth>"),
}


@pytest.mark.parametrize("mutation", sorted(PROTINFO_MUTATIONS))
def test_protinfo_negative_table(mutation: str) -> None:
    text = _minimal()
    bad = PROTINFO_MUTATIONS[mutation](text)
    assert bad != text, "the mutation must change the text"
    with pytest.raises(MalformedInput):
        parse_protinfo(bad)


def test_render_refuses_nothing_it_cannot_read_back() -> None:
    info = parse_protinfo(_minimal())
    odd = ProtInfoFile(**{**info.__dict__, "name": "a <b> & 'c'"})
    assert parse_protinfo(render_protinfo(odd)).name == "a <b> & 'c'"


# --- the three sets verify -----------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(SETS))
def test_vector_set_verifies(name: str) -> None:
    text, files = load_set(name)
    auxsid, n, width = SETS[name]
    seen: list[str] = []
    report = check_shuffle_directory(
        files, text, auxsid=auxsid, progress=lambda c: seen.append(c.name)
    )
    assert report.ok, failed(report)
    names = [c.name for c in report.checks]
    assert seen == names
    for party in ("01", "02", "03"):
        assert f"party {party} proof of shuffle" in names
    assert "ShuffledCiphertexts.bt" in names and "proofs/PolynomialInExponent.bt" in names
    session_check = report.checks[names.index("session parameters")]
    assert session_check.detail == f"der.rho {RHO[name]}"
    assert verify_shuffle_directory(files, text, auxsid=auxsid) is None
    parsed = read_shuffle_directory(files, text)
    assert (len(parsed.inputs), parsed.width, len(parsed.hops)) == (n, width, 3)


@pytest.mark.parametrize("name", sorted(SETS))
def test_vector_set_reencodes_byte_for_byte(name: str) -> None:
    """Our codecs write Verificatum's files exactly: re-export of a parsed set gives the same bytes
    for every proof file (protInfo.xml is reformatted; PolynomialInExponent.bt is not ours)."""
    text, files = load_set(name)
    auxsid = SETS[name][0]
    again = export_directory(read_shuffle_directory(files, text))
    base = f"nizkp/{auxsid}/"
    ours = {p[len(base) :]: d for p, d in again.items() if p.startswith(base)}
    theirs = {p: d for p, d in files.items() if p != "proofs/PolynomialInExponent.bt"}
    assert sorted(ours) == sorted(theirs)
    for path, data in theirs.items():
        assert ours[path] == data, path
    assert parse_protinfo(again["protInfo.xml"].decode()) == parse_protinfo(text)


# --- negative table: each tampering is rejected ---------------------------------------------


def flip(data: bytes, pos: int) -> bytes:
    return data[:pos] + bytes([data[pos] ^ 0x01]) + data[pos + 1 :]


def _flip_cases() -> list[tuple[str, str, int]]:
    cases = []
    for name in ("secp256k1-n10-w1", "p256-n10-w1"):
        root = vectors_dir() / name / "nizkp" / SETS[name][0]
        for p in sorted(root.rglob("*")):
            if p.is_file():
                size = p.stat().st_size
                rel = p.relative_to(root).as_posix()
                for pos in sorted({0, size // 2, size - 1}):
                    cases.append((name, rel, pos))
    return cases


@pytest.mark.parametrize(("name", "path", "pos"), _flip_cases())
def test_flipped_byte_in_any_file_is_rejected(name: str, path: str, pos: int) -> None:
    text, files = load_set(name)
    files[path] = flip(files[path], pos)
    report = check_shuffle_directory(files, text, auxsid=SETS[name][0])
    assert not report.ok, f"{path} with byte {pos} flipped was accepted"
    with pytest.raises((MalformedInput, InvalidElement, InvalidProof)):
        report.raise_for_failure()


def _remove(*paths: str) -> Callable[[dict[str, bytes]], None]:
    def apply(files: dict[str, bytes]) -> None:
        for p in paths:
            del files[p]

    return apply


def _set(
    path: str, value: bytes | Callable[[dict[str, bytes]], bytes]
) -> Callable[[dict[str, bytes]], None]:
    def apply(files: dict[str, bytes]) -> None:
        files[path] = value(files) if callable(value) else value

    return apply


def _swap(a: str, b: str) -> Callable[[dict[str, bytes]], None]:
    def apply(files: dict[str, bytes]) -> None:
        files[a], files[b] = files[b], files[a]

    return apply


# (tampering, the name of the check that must fail)
TAMPERINGS: dict[str, tuple[Callable[[dict[str, bytes]], None], str]] = {
    "PoSCommitment02 removed (vmnv skips the party)": (
        _remove("proofs/PoSCommitment02.bt"),
        "party 02 files",
    ),
    "PermutationCommitment01 removed": (
        _remove("proofs/PermutationCommitment01.bt"),
        "party 01 files",
    ),
    "PoSReply03 removed": (_remove("proofs/PoSReply03.bt"), "party 03 files"),
    "Ciphertexts02 removed": (_remove("proofs/Ciphertexts02.bt"), "party 02 files"),
    "all of party 02 removed": (
        _remove(
            *(
                f"proofs/{k}02.bt"
                for k in ("PermutationCommitment", "PoSCommitment", "PoSReply", "Ciphertexts")
            )
        ),
        "party 02 files",
    ),
    "ShuffledCiphertexts.bt = input list (vmnv misses it)": (
        _set("ShuffledCiphertexts.bt", lambda f: f["Ciphertexts.bt"]),
        "ShuffledCiphertexts.bt",
    ),
    "ShuffledCiphertexts.bt = party 02 output": (
        _set("ShuffledCiphertexts.bt", lambda f: f["proofs/Ciphertexts02.bt"]),
        "ShuffledCiphertexts.bt",
    ),
    "ShuffledCiphertexts.bt removed": (_remove("ShuffledCiphertexts.bt"), "ShuffledCiphertexts.bt"),
    "Ciphertexts.bt removed": (_remove("Ciphertexts.bt"), "Ciphertexts.bt"),
    "FullPublicKey.bt removed": (_remove("FullPublicKey.bt"), "FullPublicKey.bt"),
    "version with newline": (_set("version", b"3.1.0\n"), "version"),
    "version 3.0.1": (_set("version", b"3.0.1"), "version"),
    "type mixing": (_set("type", b"mixing"), "type"),
    "type with newline": (_set("type", b"shuffling\n"), "type"),
    "auxsid other (changes rho)": (_set("auxsid", b"other"), "party 01 proof of shuffle"),
    "auxsid with underscore": (_set("auxsid", b"de_fault"), "auxsid"),
    "auxsid with newline": (_set("auxsid", b"default\n"), "auxsid"),
    "width 2": (_set("width", b"2"), "width"),
    "width with newline": (_set("width", b"1\n"), "width"),
    "width 01": (_set("width", b"01"), "width"),
    "activethreshold 2": (_set("proofs/activethreshold", b"2"), "proofs/activethreshold"),
    "activethreshold 4": (_set("proofs/activethreshold", b"4"), "proofs/activethreshold"),
    "activethreshold with newline": (
        _set("proofs/activethreshold", b"3\n"),
        "proofs/activethreshold",
    ),
    "maxciph present": (_set("proofs/maxciph", b"10"), "no pre-computation"),
    "party 04 files present": (
        _set("proofs/PoSReply04.bt", lambda f: f["proofs/PoSReply03.bt"]),
        "no unexpected files",
    ),
    "replies of 01 and 02 swapped": (
        _swap("proofs/PoSReply01.bt", "proofs/PoSReply02.bt"),
        "party 01 proof of shuffle",
    ),
    "outputs of 01 and 02 swapped": (
        _swap("proofs/Ciphertexts01.bt", "proofs/Ciphertexts02.bt"),
        "party 01 proof of shuffle",
    ),
    "input list replaced by party 01 output": (
        _set("Ciphertexts.bt", lambda f: f["proofs/Ciphertexts01.bt"]),
        "party 01 proof of shuffle",
    ),
    "polynomial of another key": (
        _set("proofs/PolynomialInExponent.bt", lambda f: f["proofs/PermutationCommitment01.bt"]),
        "proofs/PolynomialInExponent.bt",
    ),
}


@pytest.mark.parametrize("tampering", sorted(TAMPERINGS))
def test_tampering_table(tampering: str) -> None:
    text, files = load_set("secp256k1-n10-w1")
    apply, check_name = TAMPERINGS[tampering]
    apply(files)
    report = check_shuffle_directory(files, text)
    assert not report.ok
    assert check_name in {c.name for c in report.failures}, failed(report)
    for check in report.failures:
        assert check.detail and check.error in {MalformedInput, InvalidElement, InvalidProof}


def test_wrong_expected_auxsid_or_width_is_rejected() -> None:
    text, files = load_set("secp256k1-n12-w2")
    report = check_shuffle_directory(files, text, auxsid="default")
    assert not report.ok and report.failures[0].name == "auxsid"
    files_default = {**files, "auxsid": b"default"}
    report = check_shuffle_directory(files_default, text, auxsid="shufw2")
    assert not report.ok and report.failures[0].name == "auxsid"
    report = check_shuffle_directory(files, text, width=1)
    assert not report.ok and report.failures[0].name == "width"
    # The width file and protInfo agree on a wrong width: the lists do not parse as width 1.
    files["width"] = b"1"
    report = check_shuffle_directory(files, text.replace("<width>2</width>", "<width>1</width>"))
    assert not report.ok and report.failures[0].name == "Ciphertexts.bt"


def test_protinfo_of_another_session_is_rejected() -> None:
    text, files = load_set("secp256k1-n10-w1")
    report = check_shuffle_directory(files, text.replace("<sid>MyDemo</sid>", "<sid>MyDemo2</sid>"))
    assert {c.name for c in report.failures} == {f"party 0{i} proof of shuffle" for i in (1, 2, 3)}
    p256_text, _ = load_set("p256-n10-w1")
    report = check_shuffle_directory(files, p256_text)
    assert not report.ok


def test_a_shorter_chain_than_the_files_is_rejected() -> None:
    """thres = activethreshold = 2 (allowed by protInfo): party 03's files are not part of the
    proven chain, and the published list is not party 02's output."""
    text, files = load_set("secp256k1-n10-w1")
    files["proofs/activethreshold"] = b"2"
    report = check_shuffle_directory(files, text.replace("<thres>3</thres>", "<thres>2</thres>"))
    assert {c.name for c in report.failures} == {
        "no unexpected files",
        "ShuffledCiphertexts.bt",
        "proofs/PolynomialInExponent.bt",  # three coefficients for a threshold of two
    }
    assert "proofs/PoSReply03.bt" in report.failures[0].detail


def test_last_output_may_be_shuffled_ciphertexts_only() -> None:
    """vmnv reads ShuffledCiphertexts.bt when proofs/Ciphertexts{λ}.bt is absent; so do we."""
    text, files = load_set("secp256k1-n10-w1")
    del files["proofs/Ciphertexts03.bt"]
    report = check_shuffle_directory(files, text)
    assert report.ok, failed(report)
    files["ShuffledCiphertexts.bt"] = files["proofs/Ciphertexts02.bt"]
    assert not check_shuffle_directory(files, text).ok


def test_raise_for_failure_names_the_failure() -> None:
    text, files = load_set("secp256k1-n10-w1")
    files["proofs/PoSReply02.bt"] = flip(files["proofs/PoSReply02.bt"], 100)
    with pytest.raises((InvalidProof, MalformedInput), match="party 02"):
        verify_shuffle_directory(files, text)
    with pytest.raises(MalformedInput):
        read_shuffle_directory({**files, "type": b"mixing"}, text)
