"""Generate the conformance vectors: ``python -m tests.conformance.generate [--out DIR]``.

Honest records come from real elections (``mixdemo``: a server and its mix nodes on loopback),
one per group and a few widths, plus an empty election and one with a node that forged its
shuffle proof. Tampered records are derived from them by a tamperer holding every key
(:class:`tests.conformance.board.Board`): each breaks one rule of ``docs/record.md`` and keeps the
chain and the signatures valid unless the case is about them. ``manifest.json`` lists every case
with its expected verdict and the exact set of check names that fail; this script checks each
expectation with ``crypto.verify.verify_record`` before writing it, so a vector set whose
expectations the verifier does not meet is never written. Rerun it after a change of the record
format; ``tests/conformance/test_conformance.py`` runs the manifest.

Both record formats are handled: the one with ``voters.registered`` and the trust model's
(``docs/trust.md``: ``credentials.list``, voter-signed ballots, node entries bound to the
fingerprint and the chain head they saw, skip evidence, receipts), detected by its
``credentials.list`` entry. With the latter, :func:`trust_cases` adds the cases of the new checks,
ballots are made with the test election's credentials from the server's database, and a tamperer
that changes the parameters re-binds the nodes' fingerprint and re-signs the ballots.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from crypto.ballot import encode_ballot_proof, encode_choice, prove_ballot
from crypto.credentials import credential_from_private, sign_ballot, voter_id
from crypto.elgamal import decode_public_key, encode_ciphertext, encrypt_with
from crypto.groups import Element, Group
from crypto.groups.weierstrass import rhs, sqrt_mod
from crypto.protocol.wire import SCHEMAS, Message, canonical_json
from crypto.receipts import decode_receipt, encode_receipt, make_receipt
from crypto.verificatum import bytetree
from crypto.verify import verify_record
from tests.conformance.board import Board, Files, proof_files, proof_items, read_dir

ROOT = Path(__file__).resolve().parents[2]
VECTORS = Path(__file__).resolve().parent / "vectors"
FORMAT = "mixvote-conformance/1"

#: (name, group, width, ballots, nodes, threshold, extra mixdemo arguments)
HONEST: list[tuple[str, str, int, int, int, int, list[str]]] = [
    ("honest-secp256k1-w1", "secp256k1", 1, 4, 3, 2, []),
    ("honest-secp256k1-w3", "secp256k1", 3, 3, 2, 2, []),
    ("honest-ristretto255-w1", "ristretto255", 1, 3, 2, 2, []),
    ("honest-ristretto255-w2", "ristretto255", 2, 3, 3, 2, []),
    ("honest-P-256-w1", "P-256", 1, 3, 2, 1, []),
    ("honest-P-256-w2", "P-256", 2, 2, 2, 2, []),
    ("honest-P-384-w1", "P-384", 1, 3, 2, 2, []),
    ("honest-secp256k1-ref-w1", "secp256k1-ref", 1, 3, 2, 2, []),
    ("honest-brainpoolP256r1-w1", "brainpoolP256r1", 1, 3, 2, 2, []),
    ("honest-M-221-w1", "M-221", 1, 2, 2, 2, []),
    ("honest-M-221-w2", "M-221", 2, 2, 2, 2, []),
    ("honest-E-521-w1", "E-521", 1, 2, 2, 2, []),
    ("honest-secp256k1-empty", "secp256k1", 1, 0, 2, 2, ["--abstain", "1"]),
    ("honest-secp256k1-rejected-hop", "secp256k1", 1, 3, 3, 2, ["--cheat", "2:forged-proof"]),
]


@dataclass
class Case:
    name: str
    description: str
    files: Files
    failing: list[str]
    base: str
    group: str
    width: int
    server_key: str | None = None
    decision: str | None = None
    receipts: list[dict[str, Any]] = field(default_factory=list)

    @property
    def verdict(self) -> str:
        return "rejected" if self.failing else "accepted"


def run_demo(work: Path, name: str, grp: str, width: int, ballots: int, nodes: int, t: int,
             extra: list[str]) -> tuple[Path, Path]:
    record, data = work / name / "record", work / name / "data"
    if (record / "election.json").exists():
        return record, data  # kept from an earlier run (--work)
    cmd = [sys.executable, "-m", "mixserver.demo", "--ballots", str(ballots), "--nodes",
           str(nodes), "--threshold", str(t), "--group", grp, "--width", str(width),
           "--export", str(record), "--data", str(data), "--json", "--seed", "7", *extra]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, timeout=1800, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"mixdemo failed for {name}:\n{proc.stderr.decode()[-3000:]}")
    return record, data


# --- small helpers for the cases -----------------------------------------------------------------
def flip(data: bytes, at: int) -> bytes:
    at %= len(data)
    return data[:at] + bytes([data[at] ^ 0x01]) + data[at + 1:]


def raw(board: Board, change: Callable[[Files], None]) -> Files:
    """The honest files with a raw change (no re-signing)."""
    files = dict(board.files_in)
    change(files)
    return files


def entry_file(files: Files, i: int) -> str:
    return next(k for k in files if k.startswith(f"entries/{i:06d}-"))


def new_ballot(board: Board, voter: str | bytes, elements: list[Element], seed: int) -> Message:
    """A ballot that encrypts ``elements`` with a valid proof: of the voter id ``voter``, or (in a
    trust-model record) signed by the private credential ``voter`` or the test credential of the
    voter id ``voter``."""
    g = board.g
    pk = decode_public_key(g, board.public_key)
    rng = random.Random(seed)
    rs = [rng.randrange(1, g.order) for _ in elements]
    ct = encrypt_with(pk, elements, rs)
    if not board.trust:
        assert isinstance(voter, str)
        proof = prove_ballot(pk, ct, rs, board.eid, voter, rng=rng)
        return Message("ballot", board.eid, {"voter_id": voter, "width": len(elements),
                                             "ciphertext": encode_ciphertext(g, ct),
                                             "proof": encode_ballot_proof(g, proof)})
    private = voter if isinstance(voter, bytes) else board.credentials[voter]
    public = credential_from_private(private).public
    proof = prove_ballot(pk, ct, rs, board.eid, voter_id(public), rng=rng)
    row, proof_bytes = encode_ciphertext(g, ct), encode_ballot_proof(g, proof)
    return Message("ballot", board.eid, {
        "credential": public, "width": len(elements), "ciphertext": row, "proof": proof_bytes,
        "signature": sign_ballot(private, board.fingerprint, row, proof_bytes)})


def registered(board: Board) -> list[str]:
    return board.registered()


def replace_ballot(board: Board, number: int, elements: list[Element], seed: int) -> None:
    """Ballot ``number`` (0-based) replaced by one of the same voter carrying ``elements``; the
    rest of the election is re-derived."""
    i = board.find("ballot")[number]
    board.set(i, new_ballot(board, board.voter_of(board.msg(i)), elements, seed))
    board.rebuild_after_ballots()


# --- plaintext points that are almost embeddings -------------------------------------------------
def weierstrass_point(g: Group, x: int, odd: bool) -> Element:
    fb = (g.field_prime.bit_length() + 7) // 8  # type: ignore[attr-defined]
    return g.decode(bytes([3 if odd else 2]) + x.to_bytes(fb, "big"))


def weierstrass_candidates(g: Group, body: bytes) -> list[int]:
    """The x-coordinates ``body || counter`` on the curve, in counter order (cofactor-1 layout)."""
    out = []
    for counter in range(256):
        x = int.from_bytes(body + bytes([counter]), "big")
        if x < g.field_prime and sqrt_mod(rhs(g, x), g.field_prime) is not None:  # type: ignore
            out.append(x)
    return out


def near_embeddings(g: Group, payload: bytes) -> dict[str, Element]:
    """Points that carry ``payload`` in the embedding's layout but are not ``embed(payload)``:
    the other y (Weierstrass groups), junk in the padding, a later counter."""
    cap = g.embed_capacity
    if g.name == "ristretto255":
        def valid(c: bytes) -> list[bytes]:
            out = []
            for counter in range(128):
                cand = bytes([2 * counter]) + c
                try:
                    g.decode(cand)
                    out.append(cand)
                except Exception:
                    continue
            return out
        tail = bytes([len(payload)]) + payload + bytes(cap + 1 - len(payload))
        good = valid(tail)
        junk = valid(bytes([len(payload)]) + payload + bytes(cap - len(payload)) + b"\x01")
        # (an odd first byte is never a valid ristretto255 encoding: RFC 9496 requires s >= 0)
        return {"junk padding": g.decode(junk[0]), "later counter": g.decode(good[1])}
    body = bytes([len(payload)]) + payload + bytes(cap - len(payload))
    xs = weierstrass_candidates(g, body)
    junk_body = bytes([len(payload)]) + payload + bytes(cap - len(payload) - 1) + b"\x07"
    return {"odd y": weierstrass_point(g, xs[0], odd=True),
            "junk padding": weierstrass_point(g, weierstrass_candidates(g, junk_body)[0], False),
            "later counter": weierstrass_point(g, xs[1], odd=False)}


# --- the cases -----------------------------------------------------------------------------------
def tampered_cases(base: str, board_of: Callable[[], Board]) -> list[Case]:
    """Every tampered case derived from the honest record ``base`` (secp256k1, width 1, 3 nodes,
    t = 2, 4 ballots)."""
    cases: list[Case] = []

    def add(name: str, description: str, failing: list[str], files: Files,
            decision: str | None = None, server_key: str | None = None) -> None:
        b = board_of()
        cases.append(Case(name, description, files, sorted(set(failing)), base,
                          b.params["group"], b.params["width"], server_key, decision))

    b = board_of()
    ballots, closed_i = b.find("ballot"), b.find("voting.closed")[0]
    results, hop_verdicts = b.find("mix.result"), b.find("hop.verdict")
    shares, dec_verdicts = b.find("decrypt.share"), b.find("decrypt.verdict")
    tally_i = b.find("tally")[0]
    n_entries = len(b.entries)

    # layout, chain, signature, entry encoding, election.json, index.json ------------------------
    add("layout-extra-file", "a file that is not part of the record", ["layout"],
        raw(b, lambda f: f.__setitem__("notes.txt", b"hello")))
    add("layout-entry-missing", "entry 5 removed (a gap in the numbering)",
        ["chain", "fingerprint", "layout"],
        raw(b, lambda f: f.pop(entry_file(f, 5))))
    add("entry-encoding-truncated", "the last byte of entry 3 cut off",
        ["DKG", "author", "ballot proof", "chain", "entry encoding", "fingerprint", "hop", "nodes"],
        raw(b, lambda f: f.__setitem__(entry_file(f, 3), f[entry_file(f, 3)][:-1])))
    add("entry-encoding-trailing", "a byte appended to entry 3",
        ["DKG", "author", "ballot proof", "chain", "entry encoding", "fingerprint", "hop", "nodes"],
        raw(b, lambda f: f.__setitem__(entry_file(f, 3), f[entry_file(f, 3)] + b"\x00")))
    add("signature-flipped", "one bit of ballot 0's signature flipped",
        ["chain", "closed list", "index.json", "signature"],
        raw(b, lambda f: f.__setitem__(entry_file(f, ballots[0]), flip(
            f[entry_file(f, ballots[0])], -len(b.entries[ballots[0]].body) - 5))))
    add("chain-body-flipped", "one bit of ballot 1's proof flipped without re-signing",
        ["signature", "chain", "index.json", "ballot proof", "closed list"],
        raw(b, lambda f: f.__setitem__(entry_file(f, ballots[1]),
                                       flip(f[entry_file(f, ballots[1])], -3))))
    add("chain-entries-swapped", "two ballot files swapped (names and contents)",
        ["chain", "closed list", "index.json"],
        raw(b, lambda f: _swap(f, ballots[0], ballots[1])))
    add("election-json-head", "election.json names another head hash", ["election.json"],
        raw(b, lambda f: _edit_json(f, "election.json", lambda m: m.__setitem__(
            "head", "00" * 32))))
    add("election-json-extra-key", "election.json has a key the format does not define",
        ["election.json"],
        raw(b, lambda f: _edit_json(f, "election.json", lambda m: m.__setitem__(
            "comment", "x"))), decision="unknown keys")
    add("election-json-float-count", "election.json gives the entry count as 42.0 (a JSON "
        "number that is not an integer)", ["election.json"],
        raw(b, lambda f: _edit_json(f, "election.json", lambda m: m.__setitem__(
            "entries", float(m["entries"])))))
    add("index-json-bool-index", "index.json row 1 gives its index as true", ["index.json"],
        raw(b, lambda f: _edit_json(f, "index.json", lambda rows: rows[1].__setitem__(
            "index", True))))
    add("index-json-hash", "index.json row 4 names another hash", ["index.json"],
        raw(b, lambda f: _edit_json(f, "index.json", lambda rows: rows[4].__setitem__(
            "hash", "00" * 32))))
    add("index-json-extra-key", "an index.json row has a key the format does not define",
        ["index.json"],
        raw(b, lambda f: _edit_json(f, "index.json", lambda rows: rows[2].__setitem__(
            "size", 10))), decision="unknown keys")
    add("index-json-extra-row", "index.json has one row more than there are entries",
        ["index.json"],
        raw(b, lambda f: _edit_json(f, "index.json", lambda rows: rows.append(dict(rows[-1])))))
    add("entry-body-kind-mismatch", "an entry file named for another kind than its body",
        ["entry body"],
        raw(b, lambda f: _rename(f, ballots[0], "tally")))

    # verificatum/ -------------------------------------------------------------------------------
    add("verificatum-flipped", "one byte of verificatum/nizkp/default/proofs/PoSReply01.bt",
        ["verificatum"],
        raw(b, lambda f: f.__setitem__(
            "verificatum/nizkp/default/proofs/PoSReply01.bt",
            flip(f["verificatum/nizkp/default/proofs/PoSReply01.bt"], 40))))
    add("verificatum-missing", "verificatum/ removed from a secp256k1 record", ["verificatum"],
        raw(b, lambda f: [f.pop(k) for k in list(f) if k.startswith("verificatum/")]),
        decision="verificatum required")
    add("verificatum-extra-file", "a stray proofs/maxciph under verificatum/", ["verificatum"],
        raw(b, lambda f: f.__setitem__("verificatum/nizkp/default/proofs/maxciph", b"4")))
    add("verificatum-descriptive-field", "protInfo.xml's <descr> changed (a field the shuffle "
        "proof does not bind)", ["verificatum"],
        raw(b, lambda f: f.__setitem__("verificatum/protInfo.xml", f[
            "verificatum/protInfo.xml"].replace(b"<descr>", b"<descr>changed ", 1))),
        decision="verificatum byte for byte")

    # phase order, parameters, nodes, author -----------------------------------------------------
    bb = board_of()
    bb.insert(ballots[-1] + 1, bb.msg(b.find("voting.opened")[0]))
    add("phase-order-opened-twice", "a second voting.opened after the ballots",
        ["phase order"], bb.files())
    bb = board_of()
    d = bb.find("dkg.deal")[0]
    deal = bb.entries[d]
    bb.remove(d)
    bb.entries.insert(bb.find("dkg.result")[0], deal)
    bb.kinds.insert(bb.find("dkg.result")[0], "dkg.deal")
    bb.orig.insert(bb.find("dkg.result")[0], None)
    add("phase-order-deal-late", "a DKG deal moved after the complaints", ["phase order"],
        bb.files())
    bb = board_of()
    bb.remove(tally_i)
    bb.remove(dec_verdicts[-1])
    add("phase-order-no-tally", "the tally entry (and the last decryption verdict) removed",
        ["phase order", "decryption share"], bb.files())
    bb = board_of()
    bb.set_params({**bb.params, "note": "extra"})
    add("parameters-extra-key", "the signed parameters carry a key the format does not define",
        ["ballot proof", "closed list", "fingerprint", "parameters"], bb.files(),
        decision="unknown keys")
    bb = board_of()
    bb.set_params({**bb.params, "choices": ["option 0", "option 1", "option 1"]})
    bb.rebuild_after_ballots()
    add("parameters-duplicate-choice", "two choices with the same name (their counts would "
        "merge)", ["ballot proof", "closed list", "fingerprint", "parameters"], bb.files(),
        decision="duplicate choices")
    bb = board_of()
    bb.set_params(bb.params, raw=json.dumps(bb.params).encode())
    add("parameters-not-canonical", "the parameters JSON with spaces (not canonical)",
        ["parameters"], bb.files())
    bb = board_of()
    bb.set_params({**bb.params, "choices": ["option 0", 7]})
    add("parameters-choice-not-string", "a choice that is not a string", ["parameters"],
        bb.files())
    bb = board_of()
    bb.set_params({**bb.params, "policy": "every-ballot-counts"})
    add("parameters-policy", "an unknown ballot policy", ["ballot proof", "closed list",
     "fingerprint", "parameters"], bb.files())
    add("parameters-server-key", "the record checked against another --server-key",
        ["parameters"], b.files(), server_key="11" * 32)
    bb = board_of()
    e = bb.find("node.enrolled")[1]
    bb.update(e, position=1)
    add("nodes-position-twice", "two nodes enrolled at position 1",
        ["DKG", "author", "ballot proof", "fingerprint", "hop", "nodes"], bb.files())
    bb = board_of()
    bb.set(ballots[0], bb.msg(ballots[0]), signer=bb.nodes[1])
    add("author-ballot-by-node", "a ballot entry signed by a node's key", ["author"], bb.files())
    bb = board_of()
    bb.set(results[0], bb.msg(results[0]), signer=bb.server)
    add("author-mix-result-by-server", "a mix result signed by the server key",
        ["author", "hop"], bb.files())

    # DKG ----------------------------------------------------------------------------------------
    bb = board_of()
    r = bb.find("dkg.result")[0]
    other = bb.g.encode(bb.g.base_mul(5))
    bb.update(r, public_key=other)
    add("dkg-result-key", "dkg.result names another public key", ["DKG", "verificatum"], bb.files())
    bb = board_of()
    vk = list(bb.msg(r)["verification_keys"])
    vk[1] = other
    bb.update(r, verification_keys=vk)
    add("dkg-verification-key", "dkg.result names another verification key for node 2",
        ["DKG"], bb.files())
    bb = board_of()
    bb.update(r, qualified=[b"1", b"2"])
    add("dkg-qualified", "dkg.result leaves node 3 out of the qualified set", ["DKG"],
        bb.files())
    bb = board_of()
    d3 = bb.find("dkg.deal")[2]
    bb.update(d3, data=flip(bytes(bb.msg(d3)["data"]), 1 + 32 + 4 + 33 + 5))
    add("dkg-deal-bad-proof", "node 3's deal with a wrong proof of knowledge: node 3 is "
        "disqualified, so dkg.result (which counts it) is wrong",
        ["DKG", "ballot proof", "closed list", "decryption share", "hop", "hop shuffle proof",
         "tally", "verificatum"], bb.files())
    bb = board_of()
    bb.update(bb.find("dkg.complaint")[0], data=b"\x02" + bytes(40))
    add("dkg-complaint-malformed", "a complaint that does not parse", ["DKG"], bb.files())
    bb = board_of()
    bb.update(b.find("voting.opened")[0], public_key=other)
    add("dkg-voting-opened-key", "voting opened with another key than the DKG's", ["DKG"],
        bb.files())

    # ballots ------------------------------------------------------------------------------------
    bb = board_of()
    m = bb.msg(ballots[1])
    bb.update(ballots[1], proof=flip(bytes(m["proof"]), -1))
    add("ballot-proof-flipped", "ballot 1's proof changed (re-signed)",
        ["ballot proof", "closed list"], bb.files())
    bb = board_of()
    others = [v for v in registered(bb) if v != bb.voter_of(bb.msg(ballots[2]))]
    if bb.trust:  # another registered voter's public credential on ballot 2
        bb.update(ballots[2], credential=credential_from_private(bb.credentials[others[0]]).public)
    else:
        bb.update(ballots[2], voter_id=others[0])
    add("ballot-proof-other-voter", "ballot 2 re-labelled with another registered voter "
        "(the proof binds the voter)", ["ballot proof", "closed list"], bb.files())
    if not bb.trust:
        bb = board_of()
        bb.update(ballots[0], voter_id="Not-Hex-" + "0" * 24)
        add("ballot-voter-id-not-hex", "a voter id that is not 32 lowercase hex digits",
            ["ballot proof", "registered credential", "closed list"], bb.files())
    bb = board_of()
    bb.update(ballots[0], width=2)
    add("ballot-width", "a ballot that claims width 2 in a width-1 election",
        ["ballot proof", "closed list"], bb.files())
    bb = board_of()
    label = ({"credential": bb.msg(ballots[1])["credential"]} if bb.trust
             else {"voter_id": bb.msg(ballots[1])["voter_id"]})
    dup = Message("ballot", bb.eid, {**bb.msg(ballots[0]).fields, **label})
    bb.insert(ballots[-1] + 1, dup)
    bb.rebuild_after_ballots()
    add("ballot-replay", "ballot 0's ciphertext and proof cast again under voter 1's id",
        ["ballot proof", "ballot replay", "closed list"], bb.files())
    bb = board_of()
    stranger: str | bytes = bytes([7]) * 32 if bb.trust else "ab" * 16  # a credential never issued
    bb.set(ballots[3], new_ballot(bb, stranger, [bb.g.embed(encode_choice(0))], 3))
    bb.rebuild_after_ballots()
    add("registered-credential-stranger", "ballot 3 replaced by a valid ballot under a voter "
        "id that is not registered (the closed list and the tally include it)",
        ["registered credential"], bb.files(), decision="registered credential")
    bb = board_of()
    bb.set_params({**bb.params, "voters": 2})
    add("one-ballot-more-voters", "more distinct voters than credentials",
        ["ballot proof", "closed list", "credential list", "fingerprint",
         "one ballot per credential", "registered credential"], bb.files())
    bb = board_of()
    vid = bb.voter_of(bb.msg(ballots[0]))
    bb.set_params({**bb.params, "policy": "first-ballot-counts"})
    bb.insert(ballots[-1] + 1, new_ballot(bb, vid, [bb.g.embed(encode_choice(2))], 4))
    bb.rebuild_after_ballots()
    add("one-ballot-first-counts", "under first-ballot-counts, a second ballot of a voter "
        "on the record", ["one ballot per credential"], bb.files())

    # closed list --------------------------------------------------------------------------------
    bb = board_of()
    m = bb.msg(closed_i)
    row = len(m["ciphertexts"]) // len(m["trackers"])
    cts = bytes(m["ciphertexts"])
    swapped = cts[row:2 * row] + cts[:row] + cts[2 * row:]
    bb.update(closed_i, ciphertexts=swapped)
    add("closed-list-ciphertexts-swapped", "the closed list's first two ciphertexts swapped",
        ["closed list", "hop shuffle proof"], bb.files())
    bb = board_of()
    bb.update(closed_i, count=m["count"] + 1)
    add("closed-list-count", "the closed list's count is one too many", ["closed list"],
        bb.files())
    bb = board_of()
    bb.remove(ballots[1])
    add("closed-list-ballot-removed", "ballot 1 removed from the board after closing",
        ["closed list"], bb.files())

    # hops ---------------------------------------------------------------------------------------
    bb = board_of()
    v0, v1 = bb.msg(hop_verdicts[0]), bb.msg(hop_verdicts[1])
    bb.update(hop_verdicts[0], hop=2, position=2)
    bb.update(hop_verdicts[1], hop=1, position=1)
    add("hop-order", "hop verdicts 1 and 2 name each other's node",
        ["hop", "hop order"], bb.files())
    bb = board_of()
    bb.update(hop_verdicts[2], status="skipped")
    add("hop-skipped-with-result", "a skipped verdict that names a result entry",
        ["decryption share", "hop", "tally"], bb.files())
    bb = board_of()
    bb.update(hop_verdicts[1], status="rejected")
    # node 2 is then excluded from decryption: which nodes' shares a record holds varies by run
    # (the server stops at t valid ones), so the consequences are derived from the record
    sharers = [bb.position_of(i) for i in shares]
    consequences = (["decryption share"] + (["tally"] if len(sharers) - 1 < b.params["t"] else [])
                    if 2 in sharers else [])
    add("hop-rejected-but-valid", "a valid hop recorded as rejected (node 2 is then excluded "
        "from decryption)", ["hop", "hop shuffle proof", *consequences], bb.files())
    bb = board_of()
    bb.update(hop_verdicts[0], output_digest=bytes(32))
    add("hop-output-digest", "a verdict's output digest is not its result's", ["hop"],
        bb.files())
    bb = board_of()
    files = proof_files(bb.msg(results[1]))
    files["PoSReply"] = flip(files["PoSReply"], -2)
    bb.update(results[1], proof=proof_items(files))
    add("hop-proof-reply-flipped", "hop 2's PoSReply changed (re-signed by node 2)",
        ["hop shuffle proof"], bb.files())
    bb = board_of()
    files = proof_files(bb.msg(results[0]))
    files["PermutationCommitment"] = _infinity_first(bb, files["PermutationCommitment"])
    bb.update(results[0], proof=proof_items(files))
    add("hop-proof-infinity", "the point at infinity (both coordinate leaves 0xff…) as the "
        "first element of hop 1's permutation commitment", ["hop shuffle proof", "verificatum"],
        bb.files(), decision="infinity in shuffle proofs")
    bb = board_of()
    items = list(bb.msg(results[0])["proof"])
    unsorted = items[4:6] + items[0:4]
    bb.update(results[0], proof=unsorted)
    add("hop-proof-files-unsorted", "hop 1's proof files listed out of name order",
        ["hop shuffle proof"], bb.files(), decision="proof file order")
    bb = board_of()
    items = list(bb.msg(results[0])["proof"])
    bb.update(results[0], proof=items[:4])
    add("hop-proof-file-missing", "hop 1's PoSReply missing", ["hop shuffle proof",
                                                             "verificatum"], bb.files())
    bb = board_of()
    m = bb.msg(results[0])
    outs = bytes(m["outputs"])
    outs = bytes(bb.g.element_size) + outs[bb.g.element_size:]
    bb.update(results[0], outputs=outs)
    bb.update(hop_verdicts[0], output_digest=_digest(outs))
    add("hop-output-identity-alpha", "hop 1's first output has the identity as alpha",
        ["hop shuffle proof", "verificatum"], bb.files())
    bb = board_of()
    bb.update(results[0], input_digest=bytes(32))
    add("hop-input-digest", "hop 1's result claims another input list",
        ["hop shuffle proof"], bb.files())
    bb = board_of()
    for v in hop_verdicts:
        # (with the trust model, a skip carries evidence: here a recorded time-out)
        evidence = ({"evidence_entry": 0, "requested_ms": 1, "gave_up_ms": 1001,
                     "timeout_ms": 1000} if "timeout_ms" in bb.msg(v).fields else {})
        bb.update(v, status="skipped", result_entry=0, output_digest=b"", **evidence)
    for r_i in reversed(results):
        bb.remove(r_i)
    bb.rebuild_after_ballots()
    add("hop-none-accepted", "every hop skipped: the ballots were decrypted unmixed",
        ["hop"], bb.files())

    # abandoned verdicts (a result the server never judged before it restarted) -----------------
    def abandoned(position: int, result_at: int) -> Message:
        m = b.msg(results[0])
        names = [name for name, _t, _s in SCHEMAS["hop.verdict"]]
        fields = {"hop": 1, "position": position, "status": "abandoned",
                  "reason": "server restarted before the verdict; the job is redone",
                  "result_entry": result_at, "output_digest": _digest(bytes(m["outputs"]))}
        return Message("hop.verdict", b.eid, {k: fields.get(k, 0) for k in names})

    for name, position, failing in (("abandoned-hop-result", 1, []),
                                    ("abandoned-other-node", 2, ["abandoned"])):
        bb = board_of()
        r0 = results[0]
        bb.insert(r0, bb.msg(r0), signer=bb.nodes[1])  # the same result, received twice
        bb.insert(r0 + 1, abandoned(position, r0), final_refs=True)
        add(name, "node 1's first hop result closed by an abandoned verdict " + (
            "(the server restarted before judging it), then sent again and accepted"
            if not failing else "that names node 2"), failing, bb.files())

    # decryption ---------------------------------------------------------------------------------
    bb = board_of()
    m = bb.msg(shares[0])
    bb.update(shares[0], share=flip(bytes(m["share"]), -1))
    add("decryption-share-proof-flipped", "a decryption share's proof changed (re-signed)",
        ["decryption share", "tally"], bb.files())
    bb = board_of()
    bb.update(shares[0], input_digest=bytes(32))
    add("decryption-share-input-digest", "a share that claims another list",
        ["decryption share", "tally"], bb.files())
    bb = board_of()
    pos0 = bb.position_of(shares[0])
    bb.set(shares[0], bb.msg(shares[0]), signer=bb.nodes[3 if pos0 != 3 else 1])
    add("decryption-share-wrong-signer", "a share re-signed by another node",
        ["decryption share", "tally"], bb.files())
    bb = board_of()
    bb.update(dec_verdicts[0], status="rejected")
    add("decryption-share-rejected-but-valid", "a valid share recorded as rejected",
        ["decryption share", "tally"], bb.files())
    bb = board_of()
    bb.remove(dec_verdicts[-1])
    add("decryption-share-unreferenced", "a share no verdict refers to",
        ["decryption share", "tally"], bb.files())

    # tally --------------------------------------------------------------------------------------
    bb = board_of()
    result = json.loads(bb.msg(tally_i)["result"])
    counts = result["counts"]
    first, second = list(counts)[:2]
    counts[first], counts[second] = counts[first] + 1, max(0, counts[second] - 1)
    bb.update(tally_i, result=canonical_json(result))
    add("tally-counts", "one vote moved between two choices", ["tally"], bb.files())
    bb = board_of()
    result = json.loads(bb.msg(tally_i)["result"])
    bb.update(tally_i, result=canonical_json({**result, "turnout": 1.0}))
    add("tally-extra-field", "the result carries a field the format does not define",
        ["tally"], bb.files(), decision="unknown keys")
    bb = board_of()
    result = json.loads(bb.msg(tally_i)["result"])
    bb.update(tally_i, result=json.dumps(result, sort_keys=True).encode())
    add("tally-not-canonical", "the result JSON with spaces", ["tally"], bb.files())
    bb = board_of()
    pts = list(bb.msg(tally_i)["plaintexts"])
    pts[0] = b"\x01\x00\x09"
    bb.update(tally_i, plaintexts=pts)
    add("tally-plaintext-changed", "one recorded plaintext changed", ["tally plaintexts"],
        bb.files())
    bb = board_of()
    bb.update(tally_i, plaintexts=pts[1:])
    add("tally-plaintext-missing", "one recorded plaintext left out", ["tally plaintexts"],
        bb.files())
    _ = (v0, v1, n_entries)
    return cases


def embedding_cases(base: str, board_of: Callable[[], Board]) -> list[Case]:
    """For the near-embeddings of "choice 1": an honest record in which ballot 0 carries it
    (counted invalid), and the record whose tally counts it for choice 1 (rejected)."""
    cases: list[Case] = []
    b = board_of()
    g = b.g
    payload = encode_choice(1)
    for k, (what, point) in enumerate(near_embeddings(g, payload).items()):
        slug = what.replace(" ", "-")
        width = b.params["width"]
        elements = [point] + [g.embed(b"")] * (width - 1)
        bb = board_of()
        replace_ballot(bb, 0, elements, 100 + k)
        cases.append(Case(f"embedding-{g.name}-{slug}-invalid",
                          f"ballot 0 encrypts a point with the layout of choice 1 but {what}: "
                          "it decodes to no plaintext and counts as invalid", bb.files(), [],
                          base, g.name, width, decision="embedding"))
        # the same record with a tally that counts it for choice 1 (as a lenient decoder would)
        t_i = bb.find("tally")[0]
        result = json.loads(bb.msg(t_i)["result"])
        pts = list(bb.msg(t_i)["plaintexts"])
        idx = pts.index(b"")
        pts[idx] = payload
        result["invalid"] -= 1
        result["counts"][b.params["choices"][1]] += 1
        bb.update(t_i, result=canonical_json(result), plaintexts=pts)
        cases.append(Case(f"embedding-{g.name}-{slug}-counted",
                          f"as embedding-{g.name}-{slug}-invalid, but the tally counts that "
                          "row for choice 1", bb.files(), ["tally", "tally plaintexts"],
                          base, g.name, width, decision="embedding"))
    return cases


def group_cases(base: str, board_of: Callable[[], Board]) -> list[Case]:
    """The proofs of one more group, each broken once: a ballot proof, a shuffle proof's reply,
    the identity inside a shuffle proof, a decryption share's proof."""
    cases: list[Case] = []
    b = board_of()
    g, width = b.g, b.params["width"]
    vmn = g.name in ("secp256k1", "secp256k1-ref", "P-256", "P-384", "brainpoolP256r1")
    tag = f"{g.name}-w{width}"

    def add(name: str, description: str, failing: list[str], files: Files,
            decision: str | None = None) -> None:
        cases.append(Case(f"{name}-{tag}", description, files, sorted(set(failing)), base,
                          g.name, width, None, decision))

    ballots, results = b.find("ballot"), b.find("mix.result")
    shares = b.find("decrypt.share")
    bb = board_of()
    bb.update(ballots[0], proof=flip(bytes(bb.msg(ballots[0])["proof"]), -1))
    add("ballot-proof-flipped", "ballot 0's proof changed (re-signed)",
        ["ballot proof", "closed list"], bb.files())
    bb = board_of()
    files = proof_files(bb.msg(results[-1]))
    files["PoSReply"] = flip(files["PoSReply"], -2)
    bb.update(results[-1], proof=proof_items(files))
    add("hop-proof-reply-flipped", "the last hop's PoSReply changed (re-signed by its node)",
        ["hop shuffle proof"], bb.files())
    bb = board_of()
    files = proof_files(bb.msg(results[0]))
    files["PermutationCommitment"] = _infinity_first(bb, files["PermutationCommitment"])
    bb.update(results[0], proof=proof_items(files))
    add("hop-proof-identity", "the identity as the first element of hop 1's permutation "
        "commitment" + (" (Verificatum's marker)" if vmn else " (a leaf of zeros)"),
        ["hop shuffle proof"] + (["verificatum"] if vmn else []), bb.files(),
        decision="infinity in shuffle proofs")
    bb = board_of()
    bb.update(shares[0], share=flip(bytes(bb.msg(shares[0])["share"]), -1))
    add("decryption-share-proof-flipped", "a decryption share's proof changed (re-signed)",
        ["decryption share", "tally"], bb.files())
    if not vmn:
        bb = board_of()
        bb.files_in = {**bb.files_in, **{"verificatum/protInfo.xml": b"<protocol/>"}}
        add("verificatum-not-allowed", f"a verificatum/ directory in a {g.name} record "
            "(Verificatum does not know the group)", ["verificatum"],
            bb.files(verificatum=False), decision="verificatum required")
    return cases


def trust_cases(base: str, board_of: Callable[[], Board]) -> list[Case]:
    """The checks of the trust model (``docs/trust.md``): the credential list, the fingerprint the
    nodes bound, the chain head they saw, a skipped hop's evidence, receipts. Only for records
    that have the trust model's format."""
    b = board_of()
    if not b.trust:
        return []
    cases: list[Case] = []
    g, width = b.params["group"], b.params["width"]

    def add(name: str, description: str, failing: list[str], files: Files,
            receipts: list[dict[str, Any]] | None = None) -> None:
        cases.append(Case(name, description, files, sorted(set(failing)), base, g, width,
                          receipts=receipts or []))

    li = b.find("credentials.list")[0]
    bb = board_of()
    doc = json.loads(bb.msg(li)["list"])
    doc["signature"] = flip(bytes.fromhex(doc["signature"]), 5).hex()
    bb.update(li, list=canonical_json(doc))
    add("credential-list-signature", "the credential list's authority signature changed",
        ["ballot proof", "closed list", "credential list", "fingerprint",
         "registered credential"], bb.files())
    bb = board_of()
    endorse = bb.find("node.endorse")[0]
    bb.update(endorse, fingerprint=bytes(32))
    add("fingerprint-node-endorse", "a node's endorsement of another fingerprint (re-signed "
        "by the node)", ["fingerprint"], bb.files())
    bb = board_of()
    share = bb.find("decrypt.share")[0]
    bb.update(share, seen_head=bytes(32))
    add("seen-head-wrong", "a decryption share bound to a chain head this record does not "
        "have (re-signed by the node)", ["seen head"], bb.files())
    bb = board_of()
    verdicts = bb.find("hop.verdict")
    results = bb.find("mix.result")
    bb.update(verdicts[-1], status="skipped", result_entry=0, output_digest=b"",
              evidence_entry=0, requested_ms=0, gave_up_ms=0, timeout_ms=0)
    bb.remove(results[-1])
    bb.rebuild_after_ballots()
    add("hop-skip-no-evidence", "the last hop relabelled skipped, its result deleted, with no "
        "evidence of a failure", ["hop skip evidence"], bb.files())
    # a voter holds the receipt of ballot 1, which the server then dropped
    bb = board_of()
    i = bb.find("ballot")[1]
    files = bb.files()
    head = len(bb.entries)
    from crypto.record import decode_entry
    entry = decode_entry(files[f"entries/{i:06d}-ballot.bin"])
    last = decode_entry(files[f"entries/{head - 1:06d}-tally.bin"])
    seed = _server_seed(bb)
    receipt = encode_receipt(make_receipt(seed, bb.eid, i, entry.hash(), i + 1, entry.hash()))
    bb.remove(i)
    bb.rebuild_after_ballots()
    add("receipts-ballot-dropped", "the server dropped ballot 1 after issuing its receipt (the "
        "voter presents it)", ["receipts"], bb.files(), receipts=[receipt])
    _ = last
    return cases


def _server_seed(board: Board) -> bytes:
    from cryptography.hazmat.primitives.serialization import (
        Encoding,
        NoEncryption,
        PrivateFormat,
    )

    return board.server.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())


def empty_cases(base: str, board_of: Callable[[], Board]) -> list[Case]:
    b = board_of()
    cases = []
    bb = board_of()
    t_i = bb.find("tally")[0]
    bb.insert(t_i, Message("decrypt.verdict", bb.eid, {"position": 1, "status": "accepted",
                                                       "reason": "x", "share_entry": 0}))
    cases.append(Case("empty-with-decrypt-verdict", "an empty election whose record has a "
                      "decryption verdict (there is nothing to decrypt)", bb.files(),
                      ["decryption share"], base, b.params["group"], 1,
                      decision="empty election"))
    bb = board_of()
    result = json.loads(bb.msg(t_i)["result"])
    result["ballots"] = 1
    bb.update(t_i, result=canonical_json(result))
    cases.append(Case("empty-tally-ballots", "an empty election whose tally claims a ballot",
                      bb.files(), ["tally"], base, b.params["group"], 1))
    return cases


def _digest(data: bytes) -> bytes:
    import hashlib

    return hashlib.sha256(data).digest()


def _infinity_first(board: Board, tree: bytes) -> bytes:
    """A permutation commitment whose first element is Verificatum's point at infinity."""
    parsed = bytetree.decode(tree, "u")
    assert isinstance(parsed, tuple)
    first = parsed[0]
    if isinstance(first, tuple):  # node(X, Y): Verificatum's marker, both leaves 0xff…ff
        fb = len(first[0])
        inf: bytetree.ByteTree = (b"\xff" * fb, b"\xff" * fb)
    else:  # one leaf holding E(P): the identity's encoding, all zeros
        inf = bytes(len(first))
    return bytetree.encode((inf, *parsed[1:]))


def _swap(files: Files, a: int, b: int) -> None:
    fa, fb = entry_file(files, a), entry_file(files, b)
    files[fa], files[fb] = files[fb], files[fa]


def _rename(files: Files, i: int, kind: str) -> None:
    old = entry_file(files, i)
    files[f"entries/{i:06d}-{kind}.bin"] = files.pop(old)
    rows = json.loads(files["index.json"])
    rows[i]["file"], rows[i]["kind"] = f"entries/{i:06d}-{kind}.bin", kind
    files["index.json"] = json.dumps(rows, indent=1).encode()


def _edit_json(files: Files, path: str, change: Callable[[Any], None]) -> None:
    doc = json.loads(files[path])
    change(doc)
    files[path] = json.dumps(doc, indent=1, sort_keys=True).encode()


# --- checking and writing ------------------------------------------------------------------------
def verify_case(files: Files, server_key: str | None, receipts: list[dict[str, Any]]) -> Any:
    """``verify_record`` as the manifest says: with the server key and the receipts held."""
    kwargs: dict[str, Any] = {}
    if server_key:
        kwargs["server_key"] = bytes.fromhex(server_key)
    if receipts:
        kwargs["receipts"] = [decode_receipt(r) for r in receipts]
    return verify_record(files, **kwargs)


def failing_checks(files: Files, server_key: str | None,
                   receipts: list[dict[str, Any]] | None = None) -> list[str]:
    report = verify_case(files, server_key, receipts or [])
    return sorted({c.name for c in report.failures})


def write(cases: list[Case], out: Path) -> None:
    bad = []
    for case in cases:
        got = failing_checks(case.files, case.server_key, case.receipts)
        if got != case.failing:
            bad.append(f"{case.name}: expected {case.failing}, the verifier fails {got}")
    if bad:
        raise SystemExit("expectations not met (nothing written):\n" + "\n".join(bad))
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    manifest: dict[str, Any] = {"format": FORMAT, "spec": "docs/record.md", "cases": []}
    for case in cases:
        root = out / case.name
        for rel, data in case.files.items():
            path = root / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
        row: dict[str, Any] = {"name": case.name, "path": case.name, "base": case.base,
                               "group": case.group, "width": case.width,
                               "verdict": case.verdict, "failing_checks": case.failing,
                               "description": case.description}
        if case.server_key:
            row["server_key"] = case.server_key
        if case.decision:
            row["decision"] = case.decision
        if case.receipts:
            # beside the record directory, not in it (a record holds no other file)
            held = f"{case.name}.receipts.json"
            (out / held).write_text(json.dumps(case.receipts, indent=1) + "\n")
            row["receipts"] = held
        manifest["cases"].append(row)
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1, ensure_ascii=False) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.conformance.generate",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=VECTORS, help="output directory")
    parser.add_argument("--work", type=Path, help="keep the elections here (default: temporary)")
    args = parser.parse_args(argv)
    work = args.work or Path(tempfile.mkdtemp(prefix="mixvote-conformance-"))
    os.environ.setdefault("MIXVOTE_QUIET", "1")
    cases: list[Case] = []
    boards: dict[str, tuple[Path, Path]] = {}
    for name, grp, width, ballots, nodes, t, extra in HONEST:
        print(f"election {name}", file=sys.stderr)
        record, data = run_demo(work, name, grp, width, ballots, nodes, t, extra)
        boards[name] = (record, data)
        cases.append(Case(name, f"an honest election: {grp}, width {width}, {ballots} ballots, "
                          f"{nodes} nodes, t = {t}" + (" (node 2 forged its shuffle proof and "
                          "was rejected)" if "--cheat" in extra else ""), read_dir(record), [],
                          name, grp, width))

    def board_of(name: str) -> Callable[[], Board]:
        return lambda: Board(*boards[name])

    print("tampering", file=sys.stderr)
    cases += tampered_cases("honest-secp256k1-w1", board_of("honest-secp256k1-w1"))
    cases += embedding_cases("honest-secp256k1-w1", board_of("honest-secp256k1-w1"))
    cases += embedding_cases("honest-ristretto255-w2", board_of("honest-ristretto255-w2"))
    cases += embedding_cases("honest-P-256-w2", board_of("honest-P-256-w2"))
    for name in ("honest-ristretto255-w2", "honest-P-384-w1", "honest-M-221-w2",
                 "honest-E-521-w1"):
        cases += group_cases(name, board_of(name))
    cases += trust_cases("honest-secp256k1-w1", board_of("honest-secp256k1-w1"))
    cases += empty_cases("honest-secp256k1-empty", board_of("honest-secp256k1-empty"))
    print(f"checking {len(cases)} cases", file=sys.stderr)
    write(cases, args.out)
    if not args.work:
        shutil.rmtree(work, ignore_errors=True)
    print(f"{len(cases)} cases written to {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
