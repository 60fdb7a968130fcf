"""``mixvote-credentials`` (crypto.io.authority): the credential authority's command line."""

from __future__ import annotations

import configparser
import csv
import io
import json
import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from crypto import credentials as cr
from crypto.io import authority

ROOT = Path(__file__).resolve().parents[2]


def run(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    code = authority.main(list(argv), out=out)
    return code, out.getvalue()


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def permissive_umask() -> Iterator[None]:
    # With umask 0 a plain open() would make world-readable files: the modes must not depend on it.
    old = os.umask(0)
    try:
        yield
    finally:
        os.umask(old)


@pytest.fixture
def key(tmp_path: Path) -> Path:
    path = tmp_path / "authority.key"
    code, out = run("keygen", "--out", str(path))
    assert code == 0 and "authority public key: " in out
    return path


def test_keygen_is_0600_from_creation_and_never_overwrites(
    tmp_path: Path, permissive_umask: None, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "a.key"
    code, out = run("keygen", "--out", str(path))
    assert code == 0 and mode(path) == 0o600
    public = out.split("authority public key: ")[1].strip()
    assert authority.read_authority_key(path).public.hex() == public
    before = path.read_bytes()
    assert b"PRIVATE KEY" in before
    code, _ = run("keygen", "--out", str(path))
    assert code == 2 and path.read_bytes() == before
    err = capsys.readouterr().err
    assert "already exists" in err and err.count("\n") == 1


def test_generate_writes_private_cards_and_a_signed_public_list(
    tmp_path: Path, key: Path, permissive_umask: None
) -> None:
    out_dir = tmp_path / "creds"
    code, out = run("generate", "--authority", str(key), "--election", "e42", "--count", "5",
                    "--out", str(out_dir), "--no-progress")
    assert code == 0 and "5 credentials for election e42" in out
    private = out_dir / "private"
    assert mode(private) == 0o700 and mode(private / "cards") == 0o700
    assert mode(private / "credentials.csv") == 0o600
    rows = list(csv.DictReader((private / "credentials.csv").open(encoding="utf-8")))
    assert len(rows) == 5
    clist = cr.decode_credential_list(json.loads((out_dir / "public-credentials.json").read_text()))
    cr.verify_credential_list(clist, authority.read_authority_key(key).public)
    assert clist.election_id == "e42" and not clist.test
    assert list(clist.credentials) == sorted(clist.credentials)
    publics = set()
    for row in rows:
        c = cr.credential_from_private(cr.parse_credential(row["credential"]))
        assert c.voter_id == row["voter_id"]
        publics.add(c.public)
        card = private / "cards" / f"{row['voter_id']}.txt"
        assert mode(card) == 0o600
        text = card.read_text(encoding="utf-8")
        assert "e42" in text and row["voter_id"] in text and row["credential"] in text
        assert "fingerprint" in text and "TEST ELECTION" not in text
    assert publics == set(clist.credentials)
    # The public file holds no private credential.
    public_text = (out_dir / "public-credentials.json").read_text()
    for row in rows:
        seed = cr.parse_credential(row["credential"])
        assert seed.hex() not in public_text and row["credential"] not in public_text
    assert f"credential list digest: {cr.credential_list_digest(clist).hex()}" in out


def test_generate_test_election_marks_list_and_cards(tmp_path: Path, key: Path) -> None:
    out_dir = tmp_path / "t"
    code, _ = run("generate", "--authority", str(key), "--election", "demo", "--count", "2",
                  "--out", str(out_dir), "--test")
    assert code == 0
    clist = cr.decode_credential_list(json.loads((out_dir / "public-credentials.json").read_text()))
    assert clist.test
    for card in (out_dir / "private" / "cards").iterdir():
        assert "TEST ELECTION" in card.read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--count", "0"], "--count"),
        (["--count", "abc"], "--count"),
        (["--count", "1000001"], "--count"),
        (["--election", "has space"], "--election"),
        (["--election", ""], "--election"),
    ],
)
def test_generate_argument_errors_are_one_line_exit_2(
    tmp_path: Path, key: Path, args: list[str], message: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    base = {"--authority": str(key), "--election": "e1", "--count": "3",
            "--out": str(tmp_path / "o")}
    for flag, value in zip(args[::2], args[1::2], strict=True):
        base[flag] = value
    argv = ["generate", *[x for kv in base.items() for x in kv]]
    with pytest.raises(SystemExit) as info:
        authority.main(argv, out=io.StringIO())
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err
    assert not (tmp_path / "o").exists()


def test_generate_refuses_bad_key_files_and_a_used_directory(
    tmp_path: Path, key: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    used = tmp_path / "used"
    used.mkdir()
    (used / "something").write_text("x")
    not_pem = tmp_path / "bad.key"
    not_pem.write_text("not a key")
    cases = [
        (str(key), str(used), "not an empty directory"),
        (str(tmp_path / "missing.key"), str(tmp_path / "o1"), "cannot read"),
        (str(not_pem), str(tmp_path / "o2"), "not an unencrypted PEM"),
    ]
    for key_path, out_dir, message in cases:
        code, _ = run("generate", "--authority", key_path, "--election", "e1", "--count", "1",
                      "--out", out_dir)
        assert code == 2
        assert message in capsys.readouterr().err
    assert sorted(p.name for p in used.iterdir()) == ["something"]


@pytest.fixture
def public_list(tmp_path: Path, key: Path) -> Path:
    out_dir = tmp_path / "v"
    assert run("generate", "--authority", str(key), "--election", "e7", "--count", "4",
               "--out", str(out_dir))[0] == 0
    return out_dir / "public-credentials.json"


def test_verify_accepts_the_generated_list(public_list: Path, key: Path) -> None:
    public = authority.read_authority_key(key).public.hex()
    code, out = run("verify", str(public_list), "--authority-key", public, "--election", "e7")
    assert code == 0 and out.startswith("OK: 4 public credentials for election e7")


def test_verify_rejects_tampered_lists(public_list: Path, tmp_path: Path) -> None:
    doc = json.loads(public_list.read_text())
    extra = cr.generate_credential().public.hex()
    tampered = {
        "added voter": {**doc, "credentials": sorted([*doc["credentials"], extra]),
                        "count": 5},
        "replaced voter": {**doc, "credentials": sorted([*doc["credentials"][1:], extra])},
        "test flag": {**doc, "test": True},
        "election": {**doc, "election": "e8"},
        "signature": {**doc, "signature": doc["signature"][:-2]
                      + ("00" if doc["signature"][-2:] != "00" else "01")},
    }
    for name, bad in tampered.items():
        path = tmp_path / f"{name}.json"
        path.write_text(json.dumps(bad))
        code, out = run("verify", str(path))
        assert code == 1 and out.startswith("REJECTED: "), name
    other = cr.generate_credential().public.hex()
    assert run("verify", str(public_list), "--authority-key", other)[0] == 1
    assert run("verify", str(public_list), "--election", "e8")[0] == 1


def test_verify_unreadable_input_is_exit_2(tmp_path: Path, public_list: Path) -> None:
    garbage = tmp_path / "garbage.json"
    garbage.write_text("{not json")
    wrong_shape = tmp_path / "shape.json"
    wrong_shape.write_text(json.dumps({"credentials": []}))
    for path in (garbage, wrong_shape, tmp_path / "missing.json"):
        assert run("verify", str(path))[0] == 2
    with pytest.raises(SystemExit) as info:
        authority.main(["verify", str(public_list), "--authority-key", "abc"])
    assert info.value.code == 2


def test_version_help_and_console_script_entry() -> None:
    proc = subprocess.run([sys.executable, "-m", "crypto.io.authority", "--version"],
                          capture_output=True, text=True, cwd=ROOT, timeout=60, check=False)
    assert proc.returncode == 0 and proc.stdout.startswith("mixvote-credentials ")
    proc = subprocess.run([sys.executable, "-m", "crypto.io.authority", "generate", "--help"],
                          capture_output=True, text=True, cwd=ROOT, timeout=60, check=False)
    assert proc.returncode == 0 and "public-credentials.json" in proc.stdout
    proc = subprocess.run([sys.executable, "-m", "crypto.io.authority"],
                          capture_output=True, text=True, cwd=ROOT, timeout=60, check=False)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1
    cfg = configparser.ConfigParser()
    cfg.read(ROOT / "setup.cfg")
    scripts = cfg["options.entry_points"]["console_scripts"]
    assert "mixvote-credentials = crypto.io.authority:main" in scripts


def test_fill_fingerprint_writes_every_card_once(tmp_path: Path, key: Path) -> None:
    out_dir = tmp_path / "f"
    assert run("generate", "--authority", str(key), "--election", "e9", "--count", "3",
               "--out", str(out_dir))[0] == 0
    fp = bytes(range(32))
    spaced = " ".join(fp.hex()[i : i + 4] for i in range(0, 64, 4))
    code, out = run("fill-fingerprint", str(out_dir), "--fingerprint", spaced)
    assert code == 0 and "written on 3 cards" in out
    cards = sorted((out_dir / "private" / "cards").iterdir())
    for card in cards:
        text = card.read_text(encoding="utf-8")
        assert authority.FINGERPRINT_BLANK not in text
        assert authority.fingerprint_line(fp) in text
        assert "0001 0203 0405 0607 0809 0a0b 0c0d 0e0f   1011" in text
        assert mode(card) == 0o600
    # Idempotent for the same fingerprint; another fingerprint is refused and changes nothing.
    assert run("fill-fingerprint", str(out_dir), "--fingerprint", fp.hex()) == (
        0, "fingerprint written on 0 cards (3 already had it): " + spaced + "\n")
    before = [c.read_text(encoding="utf-8") for c in cards]
    assert run("fill-fingerprint", str(out_dir), "--fingerprint", bytes(32).hex())[0] == 2
    assert [c.read_text(encoding="utf-8") for c in cards] == before
    with pytest.raises(SystemExit) as info:
        authority.main(["fill-fingerprint", str(out_dir), "--fingerprint", fp.hex()[:32]])
    assert info.value.code == 2
    assert run("fill-fingerprint", str(tmp_path / "nowhere"), "--fingerprint", fp.hex())[0] == 2


def test_a_write_failing_half_way_is_one_line_exit_2(
    tmp_path: Path, key: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    def full_disk(*_: object, **__: object) -> str:
        raise OSError(28, "No space left on device", "card")

    monkeypatch.setattr(authority, "card_text", full_disk)
    code, _ = run("generate", "--authority", str(key), "--election", "e1", "--count", "2",
                  "--out", str(tmp_path / "full"))
    assert code == 2
    err = capsys.readouterr().err
    assert err == "mixvote-credentials: error: card: No space left on device\n"
    assert not (tmp_path / "full" / "public-credentials.json").exists()
