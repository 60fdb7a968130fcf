"""``mixverify RECORD_DIR`` on a real election record, honest and tampered.

One small honest election (12 ballots, 3 nodes, t=2) is run once per session with the real
``mixdemo`` (server and node processes on loopback) and exported; each test copies the record and
tampers with it. Two kinds of tampering:

* *raw*: bytes flipped, files removed or reordered — the hash chain or a signature breaks, and the
  failure must name the entry;
* *re-signed*: the tamperer holds the server's and the nodes' signing keys (from mixdemo's data
  directory), rewrites entries, re-signs them and re-chains the record, keeping the closed list's
  trackers and the nodes' seen heads consistent with the rewritten board — the chain and every
  signature verify, so the failure must come from the deeper check (closed list, shuffle proof,
  share, tally, author). Each such test also asserts that the chain check passed, so a verifier
  that only checks the chain cannot pass it vacuously.
* *server-key holder* (issue 12): the tamperer holds only the server's key — the attack to defend
  against, since an auditor has no source for that key but the record — and re-signs and
  re-chains everything the server may sign; the nodes' entries stay as the nodes signed them.

The election is a *normal* one (``mixdemo --normal-election``): mixdemo acts as the credential
authority (its files in ``DATA/authority/``, never in the server's data directory) and uploads only
the signed public list; two registered voters never vote (``--abstain 2``).
"""

from __future__ import annotations

import json
import random
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from crypto import group
from crypto.ballot import encode_ballot, encode_ballot_proof, encode_choice, prove_ballot
from crypto.credentials import (
    credential_from_private,
    credential_list_digest,
    decode_credential_list,
    generate_credential,
    parse_credential,
    sign_ballot,
    voter_id,
)
from crypto.elgamal import (
    decode_ciphertexts,
    decode_public_key,
    encode_ciphertext,
    encode_ciphertexts,
    encrypt,
    reencrypt,
)
from crypto.fingerprint import compute_fingerprint
from crypto.io.cli import main
from crypto.io.pool import process_map
from crypto.protocol.wire import (
    Message,
    canonical_json,
    decode_body,
    digest,
    encode_body,
    encode_proof_files,
)
from crypto.record import GENESIS, Entry, decode_entry, public_key_bytes, sign_body
from crypto.shuffle import ShuffleSession, encode_proof, prove_shuffle, shuffle
from crypto.transport import NodeIdentity
from crypto.verify import Report as RecordReport
from crypto.verify import verify_record

pytestmark = pytest.mark.slow  # the session fixture runs a whole election (~30 s)

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Honest:
    path: Path
    files: dict[str, bytes]
    eid: str
    server: Ed25519PrivateKey
    nodes: dict[int, NodeIdentity]
    data: Path
    creds: dict[bytes, bytes]  # public credential -> private (the authority's file)


def read_dir(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


@pytest.fixture(scope="session")
def honest(tmp_path_factory: pytest.TempPathFactory) -> Honest:
    base = tmp_path_factory.mktemp("record")
    record, data = base / "record", base / "data"
    proc = subprocess.run(
        [sys.executable, "-m", "mixserver.demo", "--ballots", "12", "--nodes", "3",
         "--threshold", "2", "--export", str(record), "--data", str(data), "--json",
         "--seed", "7", "--normal-election", "--abstain", "2"],
        cwd=ROOT, capture_output=True, timeout=600, check=False,
    )
    assert proc.returncode == 0, proc.stderr.decode()[-2000:]
    summary = json.loads(proc.stdout)
    server = Ed25519PrivateKey.from_private_bytes((data / "server" / "server_key").read_bytes())
    nodes = {i: NodeIdentity.from_bytes(bytes.fromhex((data / f"node{i}.key").read_text().strip()))
             for i in (1, 2, 3)}
    rows = (data / "authority" / "credentials.csv").read_text().splitlines()[1:]
    privates = [parse_credential(row.split(",")[1]) for row in rows]
    creds = {credential_from_private(p).public: p for p in privates}
    return Honest(record, read_dir(record), summary["election"], server, nodes, data, creds)


# --- tampering helpers ---------------------------------------------------------------------------
class Board:
    """A decoded copy of the record that a key-holding tamperer can rewrite and re-chain."""

    def __init__(self, h: Honest, server_only: bool = False) -> None:
        self.h = h
        self.server_only = server_only  # the tamperer holds the server's key only
        index = json.loads(h.files["index.json"])
        self.entries = [decode_entry(h.files[row["file"]]) for row in index]
        self.kinds = [row["kind"] for row in index]
        # each position's original entry number and hash (None for inserted entries), so that
        # re-chaining can map old references to the rewritten entries
        self.orig: list[tuple[int, bytes] | None] = [(e.index, e.hash()) for e in self.entries]
        self.meta = json.loads(h.files["election.json"])
        self.keys: dict[bytes, Callable[[bytes], bytes]] = {
            public_key_bytes(h.server): lambda data: sign_body(h.server, data)}
        if not server_only:
            for ident in h.nodes.values():
                self.keys[ident.public_bytes()[:32]] = ident_signer(ident)

    def find(self, kind: str) -> list[int]:
        return [i for i, k in enumerate(self.kinds) if k == kind]

    def msg(self, i: int) -> Message:
        return decode_body(self.entries[i].body)

    def set(self, i: int, msg: Message, signer: Any = None) -> None:
        """Replace entry i's body, re-signed by its author (or ``signer``: a private key)."""
        body = encode_body(msg)
        e = self.entries[i]
        if signer is None:
            author, signature = e.author, self.keys[e.author](body)
        elif isinstance(signer, NodeIdentity):
            author, signature = signer.public_bytes()[:32], ident_signer(signer)(body)
        else:
            author, signature = public_key_bytes(signer), sign_body(signer, body)
        self.entries[i] = Entry(e.election_id, e.index, e.prev, author, signature, body)
        self.kinds[i] = msg.kind

    def update(self, i: int, signer: Any = None, **fields: Any) -> None:
        m = self.msg(i)
        self.set(i, Message(m.kind, m.election_id, {**m.fields, **fields}, m.session, m.seq),
                 signer)

    def insert(self, i: int, msg: Message) -> None:
        """A new server-signed entry at position i."""
        body = encode_body(msg)
        self.entries.insert(i, Entry(self.h.eid, 0, GENESIS, public_key_bytes(self.h.server),
                                     sign_body(self.h.server, body), body))
        self.kinds.insert(i, msg.kind)
        self.orig.insert(i, None)

    def swap(self, a: int, b: int) -> None:
        for seq in (self.entries, self.kinds, self.orig):
            seq[a], seq[b] = seq[b], seq[a]  # type: ignore[index]

    def remove(self, i: int) -> None:
        del self.entries[i]
        del self.kinds[i]
        del self.orig[i]

    def files(self, rechain: bool = True) -> dict[str, bytes]:
        """The record directory; with ``rechain`` every index, link, hash reference (closed-list
        trackers, verdicts' entry numbers), election.json and index.json is made consistent."""
        entries = self.entries
        if rechain:
            position_of_hash = {o[1]: k for k, o in enumerate(self.orig) if o is not None}
            position_of_index = {o[0]: k for k, o in enumerate(self.orig) if o is not None}
            out: list[Entry] = []
            prev = GENESIS
            for k, e in enumerate(entries):
                body = e.body
                kind = self.kinds[k]
                if kind == "voting.closed":
                    m = decode_body(body)
                    trackers = [out[position_of_hash[t]].hash() if t in position_of_hash
                                and position_of_hash[t] < k else t for t in m["trackers"]]
                    body = self._resign(e, Message(m.kind, m.election_id,
                                                   {**m.fields, "trackers": trackers}))
                if kind in ("hop.verdict", "decrypt.verdict"):
                    m = decode_body(body)
                    refs = (("result_entry", "evidence_entry") if kind == "hop.verdict"
                            else ("share_entry",))
                    fields = {ref: position_of_index.get(m[ref], m[ref])
                              for ref in refs if m[ref]}
                    if fields:
                        body = self._resign(e, Message(m.kind, m.election_id,
                                                       {**m.fields, **fields}))
                m = decode_body(body)
                if "seen_size" in m.fields and m["seen_size"] and e.author in self.keys:
                    # a key-holding tamperer makes the node's seen head agree with the new chain
                    pos = position_of_index.get(m["seen_size"] - 1)
                    if pos is not None and pos < k:
                        body = self._resign(e, Message(m.kind, m.election_id, {
                            **m.fields, "seen_size": pos + 1, "seen_head": out[pos].hash()}))
                signature = e.signature if body == e.body else self.keys[e.author](body)
                new_e = Entry(e.election_id, k, prev, e.author, signature, body)
                out.append(new_e)
                prev = new_e.hash()
            entries = out
        files = {k: v for k, v in self.h.files.items() if k.startswith("verificatum/")}
        index = []
        for k, e in enumerate(entries):
            name = f"entries/{k:06d}-{self.kinds[k]}.bin"
            files[name] = e.encode()
            index.append({"index": k, "kind": self.kinds[k], "author": e.author.hex(),
                          "hash": e.hash().hex(), "file": name})
        meta = dict(self.meta)
        if rechain:
            meta["entries"], meta["head"] = len(entries), entries[-1].hash().hex()
        files["index.json"] = json.dumps(index, indent=1).encode()
        files["election.json"] = json.dumps(meta, indent=1, sort_keys=True).encode()
        return files

    def _resign(self, e: Entry, msg: Message) -> bytes:
        m = decode_body(e.body)
        return encode_body(Message(msg.kind, msg.election_id, msg.fields, m.session, m.seq))


def ident_signer(ident: NodeIdentity) -> Callable[[bytes], bytes]:
    from crypto.record import signing_input

    return lambda body: ident.sign(signing_input(body))


def failures(report: RecordReport, name: str | None = None) -> list[str]:
    return [str(c) for c in report.failures if name is None or c.name == name]


def assert_chain_intact(report: RecordReport) -> None:
    broken = [str(c) for c in report.failures
              if c.name in ("chain", "signature", "entry encoding", "layout", "election.json",
                            "index.json")]
    assert not broken, broken
    assert any(c.name == "chain" and c.ok for c in report.checks)


def verify_intact(board: Board) -> RecordReport:
    """The report on a tampered board whose chain and signatures are still intact."""
    report = verify_record(board.files())
    assert_chain_intact(report)
    return report


def assert_fails(report: RecordReport, name: str, *needles: str) -> list[str]:
    assert not report.ok
    found = failures(report, name)
    assert found, f"no {name!r} failure among {failures(report)}"
    for needle in needles:
        assert any(needle in f for f in found), (needle, found)
    return found


def assert_caught(board: Board, name: str, *needles: str) -> list[str]:
    """The tampered ``board`` (chain intact) fails check ``name`` with every one of ``needles``."""
    return assert_fails(verify_intact(board), name, *needles)


def election_key(board: Board) -> Any:
    g = group(json.loads(board.msg(0)["params"])["group"])
    return g, decode_public_key(g, board.msg(board.find("dkg.result")[0])["public_key"])


def recorded_shares(board: Board) -> list[tuple[int, int]]:
    """(entry, node position) of every recorded decryption share. Nodes answer in any order and
    the server stops at t valid ones, so which nodes' shares are on a record varies by run."""
    positions = {ident.public_bytes()[:32]: p for p, ident in board.h.nodes.items()}
    return [(i, positions[board.entries[i].author]) for i in board.find("decrypt.share")]


def record_fingerprint(board: Board) -> bytes:
    """The fingerprint recomputed from the (honest) record: parameters, list, node keys."""
    params = json.loads(board.msg(0)["params"])
    clist = decode_credential_list(json.loads(board.msg(board.find("credentials.list")[0])["list"]))
    keys = [board.msg(i)["public_key"] for i in board.find("node.enrolled")]
    return compute_fingerprint(params, clist.authority, credential_list_digest(clist), keys)


def new_ballot(board: Board, credential: bytes, choice: int, seed: int,
               private: bytes | None = None) -> Message:
    """A ballot with a valid proof for ``credential``; signed with ``private`` (or the voter's
    own key when the test holds it), else with a made-up signature (nobody else can sign)."""
    g, pk = election_key(board)
    rng = random.Random(seed)
    ct, r = encrypt(pk, encode_ballot(g, encode_choice(choice), 1), rng=rng)
    proof = encode_ballot_proof(g, prove_ballot(pk, ct, r, board.h.eid, voter_id(credential),
                                                rng=rng))
    row = encode_ciphertext(g, ct)
    key = private or board.h.creds.get(credential)
    signature = (sign_ballot(key, record_fingerprint(board), row, proof) if key is not None
                 else rng.randbytes(64))
    return Message("ballot", board.h.eid, {"credential": credential, "width": 1,
                                           "ciphertext": row, "proof": proof,
                                           "signature": signature})


def stranger() -> tuple[bytes, bytes]:
    """A credential the authority never issued (public, private)."""
    c = generate_credential()
    return c.public, c.private


# --- honest --------------------------------------------------------------------------------------
def test_honest_record_verifies(honest: Honest) -> None:
    report = verify_record(honest.files)
    assert report.ok, failures(report)
    assert report.election_id == honest.eid
    names = {c.name for c in report.checks}
    assert {"chain", "parameters", "DKG", "ballot proof", "one ballot per credential",
            "closed list", "hop shuffle proof", "decryption share", "tally"} <= names
    assert report.summary["ballots_counted"] == 12
    assert report.summary["shuffle_rows"] == 36
    assert sum(report.summary["tally"]["counts"].values()) == 12


def test_honest_record_verifies_with_two_workers(honest: Honest) -> None:
    report = verify_record(honest.files, workers=2, mapper=process_map(2))
    assert report.ok, failures(report)


def test_rechaining_alone_changes_nothing(honest: Honest) -> None:
    # the tamperer's tool is faithful: an untouched re-chained record still verifies
    files = Board(honest).files(rechain=True)
    assert {k: v for k, v in files.items() if k.startswith("entries/")} == {
        k: v for k, v in honest.files.items() if k.startswith("entries/")}
    assert verify_record(files).ok


def test_cli_honest_record(honest: Honest, tmp_path: Path, capsys: pytest.CaptureFixture[str]
                           ) -> None:
    copy = tmp_path / "rec"
    shutil.copytree(honest.path, copy)
    assert main([str(copy)]) == 0
    out = capsys.readouterr().out
    assert "VERDICT: ACCEPTED" in out and "hop shuffle proof" in out
    assert main([str(copy), "--json", "--workers", "2", "--no-progress"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["verdict"] == "accepted" and doc["failures"] == 0
    assert doc["election"] == honest.eid
    server_key = public_key_bytes(honest.server).hex()
    assert main([str(copy), "--server-key", server_key]) == 0
    capsys.readouterr()


def test_cli_rejects_another_server_key(honest: Honest, tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    copy = tmp_path / "rec"
    shutil.copytree(honest.path, copy)
    other = public_key_bytes(Ed25519PrivateKey.generate()).hex()
    assert main([str(copy), "--server-key", other]) == 1
    assert "not the expected" in capsys.readouterr().out


def test_cli_reports_every_failure_and_exits_1(honest: Honest, tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    copy = tmp_path / "rec"
    shutil.copytree(honest.path, copy)
    index = json.loads((copy / "index.json").read_text())
    victims = [next(r for r in index if r["kind"] == kind) for kind in ("ballot", "mix.result")]
    for row in victims:
        path = copy / row["file"]
        data = bytearray(path.read_bytes())
        data[-5] ^= 1
        path.write_bytes(bytes(data))
    assert main([str(copy), "--json"]) == 1
    doc = json.loads(capsys.readouterr().out)
    where = " ".join(f["where"] for f in doc["checks"] if not f["ok"])
    for row in victims:  # both, not just the first
        assert f"entry {row['index']}" in where
    assert main([str(copy)]) == 1
    assert "VERDICT: REJECTED" in capsys.readouterr().out


def test_cli_usage_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(tmp_path / "missing")]) == 2
    assert main([str(tmp_path), "--server-key", "abc"]) == 2
    assert main([str(tmp_path), "--workers", "0"]) == 2
    capsys.readouterr()


def test_cli_runs_without_server_packages(honest: Honest) -> None:
    # the standalone verifier imports only crypto/: run it with the server packages blocked
    code = (
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in ('tornado', 'flask', 'sqlite3', 'mixserver', "
        "'mixnode', 'webui', 'websocket'):\n"
        "            raise ImportError('blocked: ' + name)\n"
        "sys.meta_path.insert(0, Block())\n"
        "from crypto.io.cli import main\n"
        f"sys.exit(main([{str(honest.path)!r}, '--json']))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                          timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr.decode()[-2000:]
    assert json.loads(proc.stdout)["verdict"] == "accepted"


# --- raw tampering: bytes, files, order ----------------------------------------------------------
def test_byte_flipped_in_any_entry_is_located(honest: Honest) -> None:
    rng = random.Random(5)
    names = sorted(n for n in honest.files if n.startswith("entries/"))
    for k, name in enumerate(names):
        files = dict(honest.files)
        data = bytearray(files[name])
        data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
        files[name] = bytes(data)
        report = verify_record(files)
        assert not report.ok, name
        assert any(f"entry {k} " in f"{c.where} " or f"entry {k}," in c.where
                   for c in report.failures), (name, failures(report))


@pytest.mark.parametrize("name", ["election.json", "index.json"])
def test_byte_flipped_in_metadata(honest: Honest, name: str) -> None:
    files = dict(honest.files)
    text = files[name].decode()
    i = text.index('"', text.index("hash" if name == "index.json" else "head") + 8)
    files[name] = (text[: i - 1] + ("0" if text[i - 1] != "0" else "1") + text[i:]).encode()
    report = verify_record(files)
    assert_fails(report, name)


def ballot_rows(honest: Honest) -> list[dict[str, Any]]:
    return [row for row in json.loads(honest.files["index.json"]) if row["kind"] == "ballot"]


def test_entry_removed_from_the_chain(honest: Honest) -> None:
    files = dict(honest.files)
    row = ballot_rows(honest)[3]
    del files[row["file"]]
    report = verify_record(files)
    assert_fails(report, "layout", f"entry {row['index']}")
    assert_fails(report, "chain", f"entry {row['index'] + 1}")


def test_last_entry_removed(honest: Honest) -> None:
    files = dict(honest.files)
    last = max(n for n in files if n.startswith("entries/"))
    del files[last]
    report = verify_record(files)
    assert_fails(report, "election.json", "entries")
    assert_fails(report, "phase order", "end with the tally")


def test_entries_reordered_in_the_chain(honest: Honest) -> None:
    files = dict(honest.files)
    first, second = ballot_rows(honest)[0:2]
    a, b = first["file"], second["file"]
    files[a], files[b] = files[b], files[a]
    report = verify_record(files)
    i = first["index"]
    found = assert_fails(report, "chain", f"entry {i}", f"entry {i + 1}")
    assert any(f"index field says {i + 1}" in f for f in found)


def test_byte_flipped_in_the_verificatum_directory(honest: Honest) -> None:
    names = sorted(n for n in honest.files if n.startswith("verificatum/"))
    assert names, "the export carries Verificatum's files"
    files = dict(honest.files)
    data = bytearray(files[names[-1]])
    data[len(data) // 2] ^= 1
    files[names[-1]] = bytes(data)
    assert_fails(verify_record(files), "verificatum", names[-1])
    del files[names[-1]]
    assert_fails(verify_record(files), "verificatum", "file missing")


def test_extra_file_in_the_record(honest: Honest) -> None:
    files = {**honest.files, "entries/notes.txt": b"hello"}
    assert_fails(verify_record(files), "layout", "entries/notes.txt")


def test_wrong_signature_on_an_entry(honest: Honest) -> None:
    # same author field, signature by another key: the signature check names the entry
    board = Board(honest)
    i = board.find("ballot")[3]
    e = board.entries[i]
    board.entries[i] = Entry(e.election_id, e.index, e.prev, e.author,
                             sign_body(Ed25519PrivateKey.generate(), e.body), e.body)
    report = verify_record(board.files(rechain=True))
    assert_fails(report, "signature", f"entry {i}")


# --- re-signed tampering: the chain verifies, the deeper checks must fail ------------------------
def test_entry_signed_by_a_wrong_key(honest: Honest) -> None:
    board = Board(honest)
    i = board.find("ballot")[2]
    board.update(i, signer=Ed25519PrivateKey.generate())  # a valid signature, wrong author
    assert_caught(board, "author", f"entry {i}")


def test_node_entry_signed_by_another_node(honest: Honest) -> None:
    board = Board(honest)
    i = board.find("mix.result")[0]
    board.update(i, signer=honest.nodes[2])
    assert_caught(board, "hop", "hop 1", "signed by node 2, not node 1")


def test_ballot_dropped_after_closing(honest: Honest) -> None:
    board = Board(honest)
    i = board.find("ballot")[5]
    board.remove(i)
    assert_caught(board, "closed list", "closed list position 5",
                 "no ballot entry has this tracker")


def test_ballot_added_after_closing(honest: Honest) -> None:
    # a 13th voter's valid ballot is slipped onto the board before the closed list
    board = Board(honest)
    public, private = stranger()
    board.insert(board.find("voting.closed")[0], new_ballot(board, public, 1, 1, private))
    report = verify_intact(board)
    assert not failures(report, "ballot proof")  # the added ballot itself is valid and signed
    assert_fails(report, "closed list", "missing from the closed list")
    assert_fails(report, "registered credential",
                 f"voter {voter_id(public)} is not among the registered")


def test_stuffed_ballot_in_place_of_a_real_voters(honest: Honest) -> None:
    # a server swaps a voter's ballot for one under a credential it made up: the counts, the
    # proof and (re-made) closed list would all look fine; only the registered list catches it
    board = Board(honest)
    i = board.find("ballot")[5]
    public, private = stranger()
    board.set(i, new_ballot(board, public, 0, 6, private))
    report = verify_intact(board)
    assert not failures(report, "ballot proof")
    assert not failures(report, "one ballot per credential")
    assert_fails(report, "registered credential",
                 f"voter {voter_id(public)} is not among the registered")


def test_registered_list_tampered(honest: Honest) -> None:
    # a credential appended to the list without the authority's key: its signature breaks
    board = Board(honest)
    r = board.find("credentials.list")[0]
    obj = json.loads(board.msg(r)["list"])
    obj["credentials"] = sorted([*obj["credentials"], stranger()[0].hex()])
    obj["count"] += 1
    board.update(r, list=canonical_json(obj))
    assert_caught(board, "credential list", "authority signature")


def test_later_ballot_of_a_voter_added_after_closing(honest: Honest) -> None:
    board = Board(honest)
    first = board.find("ballot")[4]
    voter = board.msg(first)["credential"]
    board.insert(board.find("voting.closed")[0], new_ballot(board, voter, 2, seed=2))
    assert_caught(board, "closed list", "superseded", "missing from the closed list")


def test_second_ballot_accepted_under_first_ballot_counts(honest: Honest) -> None:
    # the election says the first ballot counts, yet a second ballot of a voter is on the board
    board = Board(honest)
    params = json.loads(board.msg(0)["params"])
    params["policy"] = "first-ballot-counts"
    board.update(0, params=canonical_json(params))
    board.meta["params"] = params
    voter = board.msg(board.find("ballot")[4])["credential"]
    board.insert(board.find("voting.closed")[0], new_ballot(board, voter, 2, seed=5))
    report = verify_intact(board)
    assert not failures(report, "parameters")
    assert_fails(report, "one ballot per credential",
                 f"second ballot of voter {voter_id(voter)}")


def test_ballot_added_after_the_closed_list(honest: Honest) -> None:
    board = Board(honest)
    public, private = stranger()
    board.insert(board.find("voting.closed")[0] + 1, new_ballot(board, public, 0, 3, private))
    assert_caught(board, "phase order", "ballot entry after the voting.closed phase")


def test_ballot_replaced_after_closing(honest: Honest) -> None:
    board = Board(honest)
    i = board.find("ballot")[7]
    board.set(i, new_ballot(board, board.msg(i)["credential"], 0, seed=4))
    report = verify_intact(board)
    assert not failures(report, "ballot proof")
    assert_fails(report, "closed list", "closed list position 7", "is not ballot 7's")


def test_closed_list_differs_from_counted_ballots(honest: Honest) -> None:
    # the server swaps one ciphertext of its closed list for a fresh valid one
    board = Board(honest)
    c = board.find("voting.closed")[0]
    g, pk = election_key(board)
    cts = decode_ciphertexts(g, board.msg(c)["ciphertexts"], 1)
    cts[3] = encrypt(pk, encode_ballot(g, encode_choice(2), 1))[0]
    board.update(c, ciphertexts=encode_ciphertexts(g, cts))
    report = verify_intact(board)
    assert_fails(report, "closed list", "closed list position 3")
    assert_fails(report, "hop shuffle proof", "hop 1", "not for the list")


def test_closed_list_reordered_board(honest: Honest) -> None:
    # two ballot entries swap places on the board (re-chained): the closed list is out of order
    board = Board(honest)
    a, b = board.find("ballot")[1:3]
    board.swap(a, b)
    assert_caught(board, "closed list", "out of board order")


def test_hop_output_swapped_for_another_valid_list(honest: Honest) -> None:
    # node 2 (its own key) publishes a re-encrypted, permuted list with its old proof; the
    # server re-signs its verdict with the new output digest
    board = Board(honest)
    r = board.find("mix.result")[1]
    v = board.find("hop.verdict")[1]
    g, pk = election_key(board)
    outs = decode_ciphertexts(g, board.msg(r)["outputs"], 1)
    fake = [reencrypt(pk, ct, rng=random.Random(k))[0] for k, ct in enumerate(reversed(outs))]
    outputs = encode_ciphertexts(g, fake)
    board.update(r, outputs=outputs)
    board.update(v, output_digest=digest(outputs))
    report = verify_intact(board)
    assert_fails(report, "hop shuffle proof", "hop 2", "equation")
    assert_fails(report, "hop shuffle proof", "hop 3", "not for the list")


def test_hop_output_swapped_without_resigning(honest: Honest) -> None:
    board = Board(honest)
    r3, r2 = board.find("mix.result")[2], board.find("mix.result")[1]
    e2 = board.entries[r2]
    outputs3 = board.msg(r3)["outputs"]
    m2 = board.msg(r2)
    body = encode_body(Message(m2.kind, m2.election_id, {**m2.fields, "outputs": outputs3},
                               m2.session, m2.seq))
    board.entries[r2] = Entry(e2.election_id, e2.index, e2.prev, e2.author, e2.signature, body)
    report = verify_record(board.files())
    assert_fails(report, "signature", f"entry {r2}")


def test_proof_taken_from_another_election(honest: Honest) -> None:
    # hop 1 by node 1: a genuine shuffle of the closed list with a valid proof — for another
    # election's session (its sid); signed by node 1, verdict re-signed by the server
    board = Board(honest)
    g, pk = election_key(board)
    closed = decode_ciphertexts(g, board.msg(board.find("voting.closed")[0])["ciphertexts"], 1)
    rng = random.Random(9)
    other = ShuffleSession(g, "mixvote" + "eotherelection1")
    res = shuffle(pk, closed, rng=rng)
    proof = prove_shuffle(other, pk, closed, list(res.outputs), res.permutation, res.randomness,
                          rng=rng)
    outputs = encode_ciphertexts(g, list(res.outputs))
    r, v = board.find("mix.result")[0], board.find("hop.verdict")[0]
    board.update(r, outputs=outputs, proof=encode_proof_files(encode_proof(other, proof)))
    board.update(v, output_digest=digest(outputs))
    assert_caught(board, "hop shuffle proof", "hop 1 (node 1")


def test_rejected_hop_that_verifies(honest: Honest) -> None:
    # the server records an honest hop as rejected: the verifier re-checks the rejection
    board = Board(honest)
    v = board.find("hop.verdict")[1]
    board.update(v, status="rejected", reason="made up")
    assert_caught(board, "hop", "hop 2", "recorded as rejected, but its proof verifies")


def test_hop_verdict_removed(honest: Honest) -> None:
    board = Board(honest)
    board.remove(board.find("hop.verdict")[2])
    report = verify_intact(board)
    assert_fails(report, "hop order", "verdicts for nodes [1, 2]")
    assert_fails(report, "hop", "no verdict refers to")


def test_decryption_share_altered(honest: Honest) -> None:
    board = Board(honest)
    s, position = recorded_shares(board)[-1]
    share = bytearray(board.msg(s)["share"])
    g, _pk = election_key(board)
    # replace the first factor by another valid point
    share[12 : 12 + g.element_size] = g.encode(g.base_mul(12345))
    board.update(s, share=bytes(share))
    assert_caught(board, "decryption share", f"node {position}")


def test_decryption_share_for_another_list(honest: Honest) -> None:
    board = Board(honest)
    s, position = recorded_shares(board)[0]
    board.update(s, input_digest=bytes(32))
    assert_caught(board, "decryption share", f"node {position}", "not for the final list")


def test_tally_counts_changed(honest: Honest) -> None:
    board = Board(honest)
    t = board.find("tally")[0]
    result = json.loads(board.msg(t)["result"])
    first, second = list(result["counts"])[:2]
    result["counts"][first] += 1
    result["counts"][second] -= 1
    board.update(t, result=canonical_json(result))
    report = verify_intact(board)
    assert_fails(report, "tally", "counts")
    assert not failures(report, "tally plaintexts")


def test_tally_plaintext_changed(honest: Honest) -> None:
    board = Board(honest)
    t = board.find("tally")[0]
    plaintexts = list(board.msg(t)["plaintexts"])
    plaintexts[4] = encode_choice(0) if plaintexts[4] != encode_choice(0) else encode_choice(1)
    board.update(t, plaintexts=plaintexts)
    assert_caught(board, "tally plaintexts", "plaintext 4")


def test_dkg_result_key_replaced(honest: Honest) -> None:
    # a server announcing its own key (it would then decrypt alone) is caught by the DKG check
    board = Board(honest)
    g, _pk = election_key(board)
    d = board.find("dkg.result")[0]
    board.update(d, public_key=g.encode(g.base_mul(777)))
    assert_caught(board, "DKG", "joint public key")


def test_parameters_changed(honest: Honest) -> None:
    board = Board(honest)
    params = json.loads(board.msg(0)["params"])
    params["t"] = 1
    board.update(0, params=canonical_json(params))
    assert_caught(board, "parameters", "election.json has other parameters")


# --- the server-key holder (issue 12): re-signs and re-chains all it may sign -------------------
def node_receipts(honest: Honest, position: int) -> list[Any]:
    from mixnode.client import load_receipts

    got = load_receipts(honest.data / f"node{position}", honest.eid)[honest.eid]
    assert got, f"node {position} kept no receipts"
    return got


def test_honest_record_passes_the_trust_checks(honest: Honest) -> None:
    report = verify_record(honest.files, receipts=[
        r for p in (1, 2, 3) for r in node_receipts(honest, p)])
    assert report.ok, failures(report)
    names = {c.name for c in report.checks if c.ok}
    assert {"credential list", "fingerprint", "registered credential", "receipts"} <= names
    assert report.summary["test_election"] is False
    assert report.summary["credentials"] == 14
    assert report.summary["fingerprint"] == record_fingerprint(Board(honest)).hex()
    clist = decode_credential_list(json.loads(Board(honest).msg(1)["list"]))
    assert verify_record(honest.files, authority_key=clist.authority).ok
    report = verify_record(honest.files, authority_key=stranger()[0])
    assert_fails(report, "credential list", "expected")


def test_server_swaps_the_choice_labels_and_their_counts(honest: Honest) -> None:
    # the outcome flips: labels swapped in the parameters, the two counts swapped in the tally;
    # every server entry re-signed and re-chained. No node signed these parameters.
    board = Board(honest, server_only=True)
    params = json.loads(board.msg(0)["params"])
    params["choices"][0], params["choices"][1] = params["choices"][1], params["choices"][0]
    board.update(0, params=canonical_json(params))
    board.meta["params"] = params
    t = board.find("tally")[0]
    result = json.loads(board.msg(t)["result"])
    counts = result["counts"]
    counts["option 0"], counts["option 1"] = counts["option 1"], counts["option 0"]
    board.update(t, result=canonical_json(result))
    report = verify_intact(board)
    assert not failures(report, "parameters") and not failures(report, "tally")
    found = assert_fails(report, "fingerprint", "another election fingerprint")
    for position in (1, 2, 3):  # every node's signature contradicts the new parameters
        assert any(f"node {position}" in f for f in found), (position, found)
    assert_fails(report, "ballot proof", "voter signature")  # the voters signed it too


def test_server_casts_a_ballot_for_a_registered_voter_who_never_voted(honest: Honest) -> None:
    board = Board(honest, server_only=True)
    clist = decode_credential_list(json.loads(board.msg(1)["list"]))
    voted = {board.msg(i)["credential"] for i in board.find("ballot")}
    abstainer = next(c for c in clist.credentials if c not in voted)
    # the server can make the ciphertext and its proof, but not the voter's signature
    board.insert(board.find("voting.closed")[0],
                 new_ballot(board, abstainer, 0, seed=9, private=generate_credential().private))
    report = verify_intact(board)
    assert not failures(report, "registered credential")  # the voter is on the list
    found = assert_fails(report, "ballot proof", "ballot 12", "voter signature")
    assert voter_id(abstainer) in found[0]


def test_server_adds_a_credential_and_raises_the_count(honest: Honest) -> None:
    # the server re-signs the list with a key of its own, one more credential in it
    from crypto.credentials import encode_credential_list, sign_credential_list

    board = Board(honest, server_only=True)
    r = board.find("credentials.list")[0]
    clist = decode_credential_list(json.loads(board.msg(r)["list"]))
    fake = generate_credential()
    forged = sign_credential_list(fake.private, honest.eid,
                                  [*clist.credentials, stranger()[0]])
    assert len(forged.credentials) == len(clist.credentials) + 1
    board.update(r, list=canonical_json(encode_credential_list(forged)))
    report = verify_intact(board)
    assert not failures(report, "credential list")  # well formed and signed, by the wrong key
    found = assert_fails(report, "fingerprint", "another election fingerprint")
    assert len({f.split("node ")[1][:1] for f in found}) == 3  # all three nodes
    # an auditor with the authority's key (from the authority) also names the list
    report = verify_record(board.files(), authority_key=clist.authority)
    assert_fails(report, "credential list", f"entry {r}", "expected")


def test_server_relabels_a_hop_skipped_and_deletes_its_result(
    honest: Honest, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # node 1's accepted hop becomes "skipped (timed out)" with made-up times; its mix.result
    # is deleted and the record re-chained. Node 1 kept the server's receipt for it.
    board = Board(honest, server_only=True)
    v = board.find("hop.verdict")[0]
    r = board.msg(v)["result_entry"]
    assert board.msg(v)["position"] == 1 and board.msg(v)["status"] == "accepted"
    board.update(v, status="skipped", reason="timed out", result_entry=0, output_digest=b"",
                 requested_ms=1, gave_up_ms=600_001, timeout_ms=600_000)
    board.remove(r)
    files = board.files()
    receipts = node_receipts(honest, 1)
    assert any(x.index == r for x in receipts)
    report = verify_record(files, receipts=receipts)
    found = assert_fails(report, "receipts", f"entry {r}", "server misbehaviour")
    assert "evidence: receipt for entry" in found[0]
    # the other nodes' later signatures bind heads that include node 1's result
    assert_fails(report, "seen head", "removed, altered or reordered")
    # from the command lines: mixverify --receipt and mixnode audit
    record = tmp_path / "record"
    for name, data in files.items():
        (record / name).parent.mkdir(parents=True, exist_ok=True)
        (record / name).write_bytes(data)
    receipt_file = honest.data / "node1" / f"receipts-{honest.eid}.jsonl"
    assert main([str(record), "--receipt", str(receipt_file)]) == 1
    assert "server misbehaviour at entry" in capsys.readouterr().out
    from mixnode.cli import main as mixnode

    assert mixnode(["audit", str(record), "--data", str(honest.data / "node1")]) == 1
    out = capsys.readouterr().out
    assert f"SERVER MISBEHAVIOUR: server misbehaviour at entry {r}" in out
    assert mixnode(["audit", str(honest.path), "--data", str(honest.data / "node1")]) == 0
    assert "keeps all" in capsys.readouterr().out


def test_no_private_credential_reaches_the_server_or_the_record(honest: Honest) -> None:
    privates = list(honest.creds.values())
    assert len(privates) == 14
    files = [p for root in (honest.data / "server", honest.path) for p in root.rglob("*")
             if p.is_file()]
    assert any(p.name == "board.sqlite3" for p in files)
    for path in files:
        blob = path.read_bytes()
        for private in privates:
            assert private not in blob and private.hex().encode() not in blob, path


# --- a real record with a rejected hop ------------------------------------------------------------
@pytest.fixture(scope="session")
def cheated(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """A record in which node 2 sent a forged shuffle proof (test mode of mixnode)."""
    base = tmp_path_factory.mktemp("cheated")
    proc = subprocess.run(
        [sys.executable, "-m", "mixserver.demo", "--ballots", "6", "--nodes", "3",
         "--threshold", "2", "--export", str(base / "record"), "--data", str(base / "data"),
         "--json", "--cheat", "2:forged-proof"],
        cwd=ROOT, capture_output=True, timeout=600, check=False,
    )
    assert proc.returncode == 0, proc.stderr.decode()[-2000:]
    return read_dir(base / "record")


def test_rejected_hop_is_checked_as_recorded(cheated: dict[str, bytes]) -> None:
    report = verify_record(cheated)
    assert report.ok, failures(report)
    rejected = [c for c in report.checks if c.name == "hop" and "hop 2" in c.where]
    assert rejected and "rejected as recorded" in rejected[0].detail
    assert report.summary["hops_accepted"] == 2
    # node 2 was excluded: it may not decrypt
    assert all("node 2" not in c.where for c in report.checks if c.name == "decryption share")


def test_rejected_hop_turned_into_accepted(cheated: dict[str, bytes], tmp_path: Path) -> None:
    # a server that marks the forged hop as accepted is caught by the shuffle proof check
    index = json.loads(cheated["index.json"])
    (v,) = [row for row in index if row["kind"] == "hop.verdict"][1:2]
    entry = decode_entry(cheated[v["file"]])
    m = decode_body(entry.body)
    assert m["status"] == "rejected"
    # no keys for this record here: rewrite without re-signing, the signature check names it
    body = encode_body(Message(m.kind, m.election_id, {**m.fields, "status": "accepted"},
                               m.session, m.seq))
    files = dict(cheated)
    files[v["file"]] = Entry(entry.election_id, entry.index, entry.prev, entry.author,
                             entry.signature, body).encode()
    report = verify_record(files)
    assert_fails(report, "signature", f"entry {v['index']}")
    assert_fails(report, "hop shuffle proof", "hop 2", "equation")
