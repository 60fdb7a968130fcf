"""``mixverify --verificatum`` end to end; export of mixvote cascades in Verificatum's layout.

The command runs on Verificatum's own proof sets (``shared/vectors/verificatum/``, provenance in
their README) and on directories that mixvote exports; a mixvote shuffle exported, verified and
imported again re-exports byte for byte.
"""

from __future__ import annotations

import io
import json
import os
import random
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from crypto import group
from crypto.elgamal import Ciphertext, PublicKey, encrypt, keygen
from crypto.io.cli import main
from crypto.shuffle import ShuffleProof, ShuffleSession, prove_shuffle, shuffle
from crypto.verificatum.directory import (
    check_shuffle_directory,
    parse_protinfo,
    read_shuffle_directory,
)
from crypto.verificatum.export import export_directory, export_shuffle_directory, split_export
from tests.vectors.shared import vectors_dir

ROOT = Path(__file__).resolve().parents[2]
SETS = {"secp256k1-n10-w1": "default", "secp256k1-n12-w2": "shufw2", "p256-n10-w1": "p256test"}




def run(*argv: str | Path) -> tuple[int, str]:
    out = io.StringIO()
    code = main([str(a) for a in argv], out=out)
    return code, out.getvalue()


def write_tree(root: Path, files: dict[str, bytes]) -> None:
    for rel, data in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


def read_tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def copy_set(name: str, tmp_path: Path) -> Path:
    dest = tmp_path / name
    shutil.copytree(vectors_dir() / name, dest)
    for p in dest.rglob("*"):
        p.chmod(0o755 if p.is_dir() else 0o644)  # the shared copies are read-only
    return dest


# --- Verificatum's sets through the command -------------------------------------------------------


@pytest.mark.parametrize("name", sorted(SETS))
def test_mixverify_accepts_verificatum_sets(name: str) -> None:
    proof_dir = vectors_dir() / name / "nizkp" / SETS[name]
    code, out = run("--verificatum", proof_dir)
    assert code == 0, out
    lines = out.splitlines()
    assert lines[-1] == "VERDICT: ACCEPTED"
    assert not [ln for ln in lines if ln.startswith("FAIL")]
    for party in ("01", "02", "03"):
        assert any(ln.startswith(f"ok    party {party} proof of shuffle") for ln in lines), out
    # The set's root directory works too (protInfo.xml inside, nizkp/<auxsid>/ below).
    code, out = run("--verificatum", vectors_dir() / name, "--auxsid", SETS[name])
    assert code == 0 and out.endswith("VERDICT: ACCEPTED\n")


def test_json_report() -> None:
    code, out = run("--verificatum", vectors_dir() / "secp256k1-n12-w2", "--json", "--workers", "2")
    assert code == 0
    doc = json.loads(out)
    assert doc["verdict"] == "accepted" and doc["mode"] == "verificatum"
    assert all(c["ok"] for c in doc["checks"])
    assert "party 03 proof of shuffle" in [c["check"] for c in doc["checks"]]


def test_tampered_copy_is_rejected_with_reason(tmp_path: Path) -> None:
    root = copy_set("secp256k1-n10-w1", tmp_path)
    reply = root / "nizkp/default/proofs/PoSReply02.bt"
    data = bytearray(reply.read_bytes())
    data[len(data) // 2] ^= 0x01
    reply.write_bytes(bytes(data))
    code, out = run("--verificatum", root / "nizkp/default")
    assert code == 1
    fails = [ln for ln in out.splitlines() if ln.startswith("FAIL")]
    assert len(fails) == 1 and "party 02 proof of shuffle" in fails[0]
    assert out.splitlines()[-1] == "VERDICT: REJECTED (1 check failed)"
    code, out = run("--verificatum", root / "nizkp/default", "--json")
    doc = json.loads(out)
    assert code == 1 and doc["verdict"] == "rejected"
    bad = [c for c in doc["checks"] if not c["ok"]]
    assert bad[0]["check"] == "party 02 proof of shuffle" and bad[0]["error"]


def test_missing_party_file_and_replaced_output_are_rejected(tmp_path: Path) -> None:
    root = copy_set("secp256k1-n10-w1", tmp_path)
    proof_dir = root / "nizkp/default"
    (proof_dir / "proofs/PoSCommitment03.bt").unlink()
    code, out = run("--verificatum", proof_dir)
    assert code == 1 and "FAIL  party 03 files  missing: proofs/PoSCommitment03.bt" in out
    root = copy_set("p256-n10-w1", tmp_path / "b")
    proof_dir = root / "nizkp/p256test"
    shutil.copy(proof_dir / "Ciphertexts.bt", proof_dir / "ShuffledCiphertexts.bt")
    code, out = run("--verificatum", proof_dir)
    assert code == 1 and "FAIL  ShuffledCiphertexts.bt" in out


def test_auxsid_is_bound_to_the_directory(tmp_path: Path) -> None:
    code, out = run("--verificatum", vectors_dir() / "p256-n10-w1/nizkp/p256test", "--auxsid", "x")
    assert code == 1 and "FAIL  auxsid" in out
    # A directory renamed to another auxsid no longer matches its auxsid file.
    root = copy_set("p256-n10-w1", tmp_path)
    (root / "nizkp/p256test").rename(root / "nizkp/other")
    code, out = run("--verificatum", root / "nizkp/other")
    assert code == 1 and "FAIL  auxsid" in out


def test_protinfo_location_and_usage_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = copy_set("secp256k1-n10-w1", tmp_path)
    moved = tmp_path / "elsewhere.xml"
    (root / "protInfo.xml").rename(moved)
    code, _ = run("--verificatum", root / "nizkp/default")
    assert code == 2 and "protInfo.xml" in capsys.readouterr().err
    code, out = run("--verificatum", root / "nizkp/default", "--protinfo", moved)
    assert code == 0, out
    code, _ = run("--verificatum", tmp_path / "nope")
    assert code == 2
    code, _ = run()
    assert code == 2 and "nothing to verify" in capsys.readouterr().err
    code, _ = run("--verificatum", root / "nizkp/default", "--protinfo", moved, "--workers", "0")
    assert code == 2


def test_console_entry_point_exit_status(tmp_path: Path) -> None:
    """The real process: exit status 0 / 1 (what a shell script sees)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    good = vectors_dir() / "secp256k1-n10-w1"
    cmd = [sys.executable, "-m", "crypto.io.cli", "--verificatum"]
    proc = subprocess.run([*cmd, str(good)], capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0 and "VERDICT: ACCEPTED" in proc.stdout, proc.stderr
    root = copy_set("secp256k1-n10-w1", tmp_path)
    (root / "nizkp/default/width").write_bytes(b"1\n")
    proc = subprocess.run([*cmd, str(root)], capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 1 and "FAIL  width" in proc.stdout


# --- export of mixvote cascades ---------------------------------------------------------------


def make_cascade(
    group_name: str, n: int, width: int, hops: int, seed: int, auxsid: str = "default"
) -> tuple[
    ShuffleSession, PublicKey, list[Ciphertext], list[tuple[list[Ciphertext], ShuffleProof]]
]:
    rng = random.Random(seed)
    grp = group(group_name)
    _, pk = keygen(grp, rng)
    session = ShuffleSession(grp, "mixvoteTest", auxsid)
    inputs = [
        encrypt(pk, [grp.base_mul(rng.randrange(1, 1000)) for _ in range(width)], rng)[0]
        for _ in range(n)
    ]
    chain: list[tuple[list[Ciphertext], ShuffleProof]] = []
    current = inputs
    for _ in range(hops):
        result = shuffle(pk, current, rng)
        proof = prove_shuffle(
            session, pk, current, result.outputs, result.permutation, result.randomness, rng
        )
        chain.append((list(result.outputs), proof))
        current = list(result.outputs)
    return session, pk, inputs, chain


def test_round_trip_export_verify_import_reexport(tmp_path: Path) -> None:
    session, pk, inputs, hops = make_cascade("secp256k1", 6, 2, 2, seed=7, auxsid="rt1")
    export = export_shuffle_directory(session, pk, inputs, hops, ["node-a", "node-b"])
    write_tree(tmp_path / "verificatum", export)
    code, out = run("--verificatum", tmp_path / "verificatum" / "nizkp" / "rt1")
    assert code == 0, out
    protinfo, files = split_export(read_tree(tmp_path / "verificatum"))
    parsed = read_shuffle_directory(files, protinfo, auxsid="rt1")
    assert parsed.inputs == tuple(inputs) and [o for o, _ in parsed.hops] == [
        tuple(o) for o, _ in hops
    ]
    assert export_directory(parsed) == export


def test_export_layout_follows_verificatum() -> None:
    session, pk, inputs, hops = make_cascade("secp256k1", 4, 1, 3, seed=3)
    export = export_shuffle_directory(session, pk, inputs, hops)
    base = "nizkp/default/"
    assert export[base + "version"] == b"3.1.0"
    assert export[base + "type"] == b"shuffling"
    assert export[base + "auxsid"] == b"default"
    assert export[base + "width"] == b"1"
    assert export[base + "proofs/activethreshold"] == b"3"
    assert base + "proofs/maxciph" not in export
    expected = {"protInfo.xml"} | {base + p for p in (
        "version", "type", "auxsid", "width", "FullPublicKey.bt", "Ciphertexts.bt",
        "ShuffledCiphertexts.bt", "proofs/activethreshold")}
    for nn in ("01", "02", "03"):
        expected |= {
            f"{base}proofs/{k}{nn}.bt"
            for k in ("PermutationCommitment", "PoSCommitment", "PoSReply", "Ciphertexts")
        }
    assert set(export) == expected
    assert export[base + "ShuffledCiphertexts.bt"] == export[base + "proofs/Ciphertexts03.bt"]
    info = parse_protinfo(export["protInfo.xml"].decode())
    assert (info.nopart, info.thres, info.width, info.maxciph) == (3, 3, 1, 0)
    assert [p.name for p in info.parties] == ["Party01", "Party02", "Party03"]
    assert info.pgroup.startswith("ECqPGroup(secp256k1)::")
    assert info.sid == "mixvoteTest" and info.corr == "noninteractive"
    # Same statement, same rng: the export is deterministic.
    assert export_shuffle_directory(*make_cascade("secp256k1", 4, 1, 3, seed=3)) == export


def test_skipped_hop_is_not_a_party() -> None:
    """Hop 2 of 3 was rejected: the proven chain is hops 1 and 3, exported as parties 1 and 2."""
    session, pk, inputs, hops = make_cascade("secp256k1", 5, 1, 1, seed=11)
    rng = random.Random(12)
    first_out = hops[0][0]
    bogus = shuffle(pk, inputs, rng)  # a rejected hop's output, never part of the chain
    third = shuffle(pk, first_out, rng)
    proof3 = prove_shuffle(
        session, pk, first_out, third.outputs, third.permutation, third.randomness, rng
    )
    chain = [hops[0], (list(third.outputs), proof3)]
    export = export_shuffle_directory(session, pk, inputs, chain, ["n1", "n3"])
    protinfo, files = split_export(export)
    report = check_shuffle_directory(files, protinfo)
    assert report.ok, [c.detail for c in report.failures]
    assert parse_protinfo(protinfo).nopart == 2
    # Putting the rejected hop into the chain breaks it.
    bad = export_shuffle_directory(
        session, pk, inputs, [(list(bogus.outputs), hops[0][1]), chain[1]]
    )
    protinfo, files = split_export(bad)
    assert not check_shuffle_directory(files, protinfo).ok


def test_round_trip_on_p256_reference_backend(tmp_path: Path) -> None:
    session, pk, inputs, hops = make_cascade("P-256", 3, 1, 1, seed=5, auxsid="p256rt")
    export = export_shuffle_directory(session, pk, inputs, hops)
    protinfo, files = split_export(export)
    assert parse_protinfo(protinfo).pgroup.startswith("ECqPGroup(P-256)::")
    assert check_shuffle_directory(files, protinfo, auxsid="p256rt").ok
    assert export_directory(read_shuffle_directory(files, protinfo)) == export


def test_export_misuse_raises_value_error() -> None:
    session, pk, inputs, hops = make_cascade("secp256k1", 3, 1, 1, seed=1)
    with pytest.raises(ValueError, match="at least one accepted hop"):
        export_shuffle_directory(session, pk, inputs, [])
    with pytest.raises(ValueError, match="party names"):
        export_shuffle_directory(session, pk, inputs, hops, ["a", "b"])
    with pytest.raises(ValueError, match="outputs"):
        export_shuffle_directory(session, pk, inputs, [(hops[0][0][:2], hops[0][1])])
    with pytest.raises(ValueError, match="inputs must not be empty"):
        export_shuffle_directory(session, pk, [], hops)
    with pytest.raises(ValueError, match="party_names"):
        export_shuffle_directory(session, pk, inputs, hops, [" padded "])
    ristretto = group("ristretto255")
    _, rpk = keygen(ristretto, random.Random(1))
    with pytest.raises(ValueError, match="does not know the group"):
        export_shuffle_directory(ShuffleSession(ristretto, "x"), rpk, inputs, hops)
