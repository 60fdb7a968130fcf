"""A key-holding tamperer's view of an exported record, for the conformance vectors.

:class:`Board` decodes a record that ``mixdemo`` exported, together with the signing keys of its
data directory (the server key, the node identities and the nodes' DKG key shares), so that a
vector can change entries, re-sign them, re-chain the record and re-derive everything downstream
of a change (the closed list, the hops, the decryption shares, the tally, ``verificatum/``). A
tampered vector made this way breaks exactly the rule it is about: the chain and every signature
still verify.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from crypto.ballot import FIRST_BALLOT_COUNTS, tally
from crypto.credentials import decode_credential_list, sign_ballot, voter_id
from crypto.dkg import KeyShare
from crypto.elgamal import decode_ciphertexts
from crypto.errors import MixvoteError
from crypto.fingerprint import election_fingerprint
from crypto.groups import Group, group
from crypto.protocol.export import verificatum_files
from crypto.protocol.wire import (
    ACCEPTED,
    Message,
    canonical_json,
    decode_body,
    decode_proof_files,
    decryption_context,
    digest,
    encode_body,
    encode_proof_files,
)
from crypto.record import GENESIS, Entry, decode_entry, public_key_bytes, sign_body, signing_input
from crypto.threshold import combine, decode_decryption_share
from crypto.transport import NodeIdentity
from mixnode.protocol import decrypt_job, mix_job

Files = dict[str, bytes]


def read_dir(root: Path) -> Files:
    return {p.relative_to(root).as_posix(): p.read_bytes()
            for p in sorted(root.rglob("*")) if p.is_file()}


class Board:
    """A decoded, rewritable copy of a record and the keys that signed it."""

    def __init__(self, record: Path, data: Path) -> None:
        self.files_in = read_dir(record)
        index = json.loads(self.files_in["index.json"])
        self.entries = [decode_entry(self.files_in[row["file"]]) for row in index]
        self.kinds: list[str] = [row["kind"] for row in index]
        # each position's original entry number (None for inserted entries): re-chaining maps the
        # verdicts' entry references through it
        self.orig: list[int | None] = [e.index for e in self.entries]
        self.closed_rebuilt = False
        self.orig_hashes = [e.hash() for e in self.entries]
        self.fixed: set[int] = set()  # ids of inserted entries whose references are final
        self.meta: dict[str, Any] = json.loads(self.files_in["election.json"])
        self.eid: str = self.meta["election"]
        self.params: dict[str, Any] = self.meta["params"]
        self.g: Group = group(self.params["group"])
        self.server = Ed25519PrivateKey.from_private_bytes(
            (data / "server" / "server_key").read_bytes())
        self.nodes: dict[int, NodeIdentity] = {}
        self.key_shares: dict[int, bytes] = {}
        for pos in range(1, self.params["n"] + 1):
            raw = (data / f"node{pos}.key").read_text().strip()
            self.nodes[pos] = NodeIdentity.from_bytes(bytes.fromhex(raw))
            share = data / f"node{pos}" / f"keyshare-{self.eid}.bin"
            if share.exists():
                self.key_shares[pos] = share.read_bytes()
        # The trust-model record (docs/trust.md): a credential list instead of voters.registered,
        # voter-signed ballots, node entries bound to the fingerprint and the chain head they saw.
        # A test election's private credentials are in the server's database.
        self.trust = "credentials.list" in self.kinds
        self.credentials: dict[str, bytes] = {}  # voter id -> private credential
        db = data / "server" / "board.sqlite3"
        if self.trust and db.exists():
            with contextlib.closing(sqlite3.connect(db)) as conn:
                rows = conn.execute("SELECT voter_id, private FROM test_credentials WHERE eid = ?",
                                    (self.eid,)).fetchall()
            self.credentials = {str(v): bytes(p) for v, p in rows}
        self.signers: dict[bytes, Callable[[bytes], bytes]] = {
            public_key_bytes(self.server): lambda body: sign_body(self.server, body)}
        for ident in self.nodes.values():
            self.signers[ident.public_bytes()[:32]] = _node_signer(ident)

    # --- reading ---------------------------------------------------------------------------
    def find(self, kind: str) -> list[int]:
        return [i for i, k in enumerate(self.kinds) if k == kind]

    def msg(self, i: int) -> Message:
        return decode_body(self.entries[i].body)

    def position_of(self, i: int) -> int:
        author = self.entries[i].author
        for pos, ident in self.nodes.items():
            if ident.public_bytes()[:32] == author:
                return pos
        raise KeyError(f"entry {i} is not a node's")

    def voter_of(self, msg: Message) -> str:
        """A ballot's voter id (its own field, or derived from its public credential)."""
        if "voter_id" in msg.fields:
            return str(msg["voter_id"])
        return voter_id(bytes(msg["credential"]))

    def registered(self) -> list[str]:
        """The voter ids that may vote: voters.registered, or the credential list's keys."""
        if self.trust:
            doc = json.loads(self.msg(self.find("credentials.list")[0])["list"])
            return sorted(voter_id(bytes.fromhex(c)) for c in doc["credentials"])
        ids = self.msg(self.find("voters.registered")[0])["voter_ids"]
        return [ids[k:k + 16].hex() for k in range(0, len(ids), 16)]

    @property
    def fingerprint(self) -> bytes:
        """The election fingerprint the nodes bound into their entries (trust-model records)."""
        for i in range(len(self.entries)):
            m = self.msg(i)
            if "fingerprint" in m.fields:
                return bytes(m["fingerprint"])
        raise KeyError("no node entry carries the fingerprint")

    @property
    def public_key(self) -> bytes:
        return bytes(self.msg(self.find("dkg.result")[0])["public_key"])

    # --- writing ---------------------------------------------------------------------------
    def set(self, i: int, msg: Message, signer: NodeIdentity | Ed25519PrivateKey | None = None,
            ) -> None:
        """Replace entry i's body, re-signed by its author (or by ``signer``)."""
        self.set_body(i, encode_body(msg), signer)
        self.kinds[i] = msg.kind

    def set_body(self, i: int, body: bytes,
                 signer: NodeIdentity | Ed25519PrivateKey | None = None) -> None:
        e = self.entries[i]
        if signer is None:
            author, signature = e.author, self.signers[e.author](body)
        elif isinstance(signer, NodeIdentity):
            author, signature = signer.public_bytes()[:32], _node_signer(signer)(body)
        else:
            author, signature = public_key_bytes(signer), sign_body(signer, body)
        self.entries[i] = Entry(e.election_id, e.index, e.prev, author, signature, body)

    def update(self, i: int, signer: NodeIdentity | Ed25519PrivateKey | None = None,
               **fields: Any) -> None:
        m = self.msg(i)
        self.set(i, Message(m.kind, m.election_id, {**m.fields, **fields}, m.session, m.seq),
                 signer)

    def insert(self, i: int, msg: Message, signer: NodeIdentity | None = None,
               final_refs: bool = False) -> None:
        """A new entry at position i, signed by the server (or by the node ``signer``). With
        ``final_refs`` its entry references are positions in the final record, not remapped."""
        body = encode_body(msg)
        if signer is None:
            author, signature = public_key_bytes(self.server), sign_body(self.server, body)
        else:
            author, signature = signer.public_bytes()[:32], _node_signer(signer)(body)
        entry = Entry(self.eid, 0, GENESIS, author, signature, body)
        if final_refs:
            self.fixed.add(id(entry))
        self.entries.insert(i, entry)
        self.kinds.insert(i, msg.kind)
        self.orig.insert(i, None)

    def remove(self, i: int) -> None:
        del self.entries[i]
        del self.kinds[i]
        del self.orig[i]

    def set_params(self, params: dict[str, Any], raw: bytes | None = None) -> None:
        """New parameters (signed entry 0 and election.json); in a trust-model record the nodes'
        fingerprint and the voters' signatures follow when the parameters still have one."""
        self.params = params
        self.meta["params"] = params
        self.update(0, params=raw if raw is not None else canonical_json(params))
        if self.trust:
            self.refingerprint()

    def refingerprint(self) -> None:
        """Every node entry re-bound (and re-signed) to the fingerprint of the current
        parameters, list and nodes, every ballot re-signed by its test credential."""
        listed = self.msg(self.find("credentials.list")[0])["list"]
        clist = decode_credential_list(json.loads(listed))
        identities = [bytes(self.msg(i)["public_key"]) for i in sorted(
            self.find("node.enrolled"), key=lambda i: self.msg(i)["position"])]
        try:
            fp = election_fingerprint(self.params, clist, identities)
        except MixvoteError:
            return  # parameters without a fingerprint: the nodes' old one stays
        for i in range(len(self.entries)):
            m = self.msg(i)
            if "fingerprint" in m.fields and bytes(m["fingerprint"]) != fp:
                self.update(i, fingerprint=fp)
            elif m.kind == "ballot" and "signature" in m.fields:
                private = self.credentials.get(self.voter_of(m))
                if private is not None:
                    self.update(i, signature=sign_ballot(private, fp, bytes(m["ciphertext"]),
                                                         bytes(m["proof"])))

    # --- re-deriving what follows the ballots ----------------------------------------------
    def counted_ballots(self) -> list[int]:
        """Entry positions of the counted ballots under the election's policy."""
        latest: dict[str, int] = {}
        first = self.params.get("policy") == FIRST_BALLOT_COUNTS
        for i in self.find("ballot"):
            vid = self.voter_of(self.msg(i))
            if first and vid in latest:
                continue
            latest[vid] = i
        return sorted(latest.values())

    def rebuild_after_ballots(self) -> None:
        """Re-derive the closed list, every accepted hop (a new shuffle and proof by the same
        node), every accepted decryption share and the tally from the ballots on the board."""
        g, width = self.g, self.params["width"]
        closed = b"".join(self.msg(i)["ciphertext"] for i in self.counted_ballots())
        count = len(closed) // (2 * width * g.element_size)
        ci = self.find("voting.closed")[0]
        self.update(ci, count=count, ciphertexts=closed)  # trackers: set when re-chaining
        self.closed_rebuilt = True
        current = closed
        sid = "mixvote" + "".join(ch for ch in self.eid if ch.isalnum())
        for vi in self.find("hop.verdict"):
            v = self.msg(vi)
            if v["status"] != ACCEPTED:
                continue
            ri = self._entry_at(v["result_entry"])
            outputs, items = mix_job(g.name, sid, self.public_key, width, current, 1)
            self.update(ri, input_digest=digest(current), outputs=outputs, proof=items)
            self.update(vi, output_digest=digest(outputs))
            current = outputs
        context = decryption_context(self.eid, current)
        shares: dict[int, bytes] = {}
        for vi in self.find("decrypt.verdict"):
            v = self.msg(vi)
            if v["status"] != ACCEPTED:
                continue
            si = self._entry_at(v["share_entry"])
            pos = self.position_of(si)
            share = decrypt_job(g.name, self.key_shares[pos], width, current, context)
            self.update(si, input_digest=digest(current), share=share)
            shares[pos] = share
        self.set_tally(self.compute_tally(current, shares))

    def compute_tally(self, final: bytes, shares: dict[int, bytes]) -> tuple[bytes, list[bytes]]:
        g, width, t = self.g, self.params["width"], self.params["t"]
        cts = decode_ciphertexts(g, final, width)
        rows = []
        if cts:
            decoded = {j: decode_decryption_share(g, shares[j], len(cts), width)
                       for j in sorted(shares)[:t]}
            rows = combine(g, cts, decoded, t)
        result = tally(g, rows, self.params["choices"])
        doc = {"ballots": len(rows), "counts": result.counts, "invalid": result.invalid}
        return canonical_json(doc), list(result.plaintexts)

    def set_tally(self, tallied: tuple[bytes, list[bytes]]) -> None:
        self.update(self.find("tally")[0], result=tallied[0], plaintexts=tallied[1])

    def key_share(self, pos: int) -> KeyShare:
        return KeyShare.from_bytes(self.g, self.key_shares[pos])

    def _entry_at(self, original_index: int) -> int:
        return self.orig.index(original_index)

    # --- output ----------------------------------------------------------------------------
    def files(self, rechain: bool = True, verificatum: bool = True) -> Files:
        """The record directory. With ``rechain``, every index, link and entry reference (the
        closed list's trackers, the verdicts' entry numbers), election.json and index.json is
        made consistent; with ``verificatum``, ``verificatum/`` is derived afresh from the
        entries (else the original files are kept)."""
        entries = self.entries
        if rechain:
            entries = self._rechain()
        out: Files = {}
        index = []
        for k, e in enumerate(entries):
            name = f"entries/{k:06d}-{self.kinds[k]}.bin"
            out[name] = e.encode()
            index.append({"index": k, "kind": self.kinds[k], "author": e.author.hex(),
                          "hash": e.hash().hex(), "file": name})
        meta = dict(self.meta)
        if rechain:
            meta["entries"], meta["head"] = len(entries), entries[-1].hash().hex()
        out["index.json"] = json.dumps(index, indent=1).encode()
        out["election.json"] = json.dumps(meta, indent=1, sort_keys=True,
                                          ensure_ascii=False).encode()
        if verificatum:
            for rel, data in self._verificatum(entries).items():
                out["verificatum/" + rel] = data
        else:
            out.update({k: v for k, v in self.files_in.items() if k.startswith("verificatum/")})
        return out

    def _rechain(self) -> list[Entry]:
        new_position = {o: k for k, o in enumerate(self.orig) if o is not None}
        counted = set(self.counted_ballots())
        out: list[Entry] = []
        prev = GENESIS
        for k, e in enumerate(self.entries):
            body = e.body
            kind = self.kinds[k]
            if kind == "voting.closed":
                m = decode_body(body)
                trackers = [out[i].hash() for i in sorted(counted) if i < k]
                if self.closed_rebuilt or len(trackers) == len(m["trackers"]):
                    body = encode_body(Message(m.kind, m.election_id,
                                               {**m.fields, "trackers": trackers},
                                               m.session, m.seq))
            m = decode_body(body)
            if "seen_size" in m.fields and m["seen_size"] and bytes(m["seen_head"]) == (
                    self.orig_hashes[m["seen_size"] - 1]
                    if m["seen_size"] - 1 < len(self.orig_hashes) else None):
                # a node entry honestly bound to the chain head it saw: follow that entry to its
                # new place (a binding the case tampered with stays as it is)
                p = new_position.get(m["seen_size"] - 1)
                if p is not None and p < k and (p + 1, out[p].hash()) != (
                        m["seen_size"], bytes(m["seen_head"])):
                    body = encode_body(Message(m.kind, m.election_id,
                                               {**m.fields, "seen_size": p + 1,
                                                "seen_head": out[p].hash()},
                                               m.session, m.seq))
            if kind in ("hop.verdict", "decrypt.verdict") and id(e) not in self.fixed:
                m = decode_body(body)
                ref = "result_entry" if kind == "hop.verdict" else "share_entry"
                if m[ref] and m[ref] in new_position:
                    body = encode_body(Message(m.kind, m.election_id,
                                               {**m.fields, ref: new_position[m[ref]]},
                                               m.session, m.seq))
            signature = e.signature if body == e.body else self.signers[e.author](body)
            new_e = Entry(e.election_id, k, prev, e.author, signature, body)
            out.append(new_e)
            prev = new_e.hash()
        return out

    def _verificatum(self, entries: list[Entry]) -> Files:
        msgs = [decode_body(e.body) for e in entries]
        closed = next(m for m in msgs if m.kind == "voting.closed")["ciphertexts"]
        results = {k: m for k, m in enumerate(msgs) if m.kind == "mix.result"}
        hops = []
        for m in msgs:
            if m.kind == "hop.verdict" and m["status"] == ACCEPTED:
                r = results[m["result_entry"]]
                hops.append((m["position"], bytes(r["outputs"]), list(r["proof"])))
        pk = next(m for m in msgs if m.kind == "dkg.result")["public_key"]
        try:
            return verificatum_files(self.g, self.eid, pk, self.params["width"], closed, hops)
        except MixvoteError:  # a hop that does not decode: keep the honest export
            return {k[len("verificatum/"):]: v for k, v in self.files_in.items()
                    if k.startswith("verificatum/")}


def _node_signer(ident: NodeIdentity) -> Callable[[bytes], bytes]:
    return lambda body: ident.sign(signing_input(body))


def proof_files(msg: Message) -> dict[str, bytes]:
    return decode_proof_files(msg["proof"])


def proof_items(files: dict[str, bytes]) -> list[bytes]:
    return encode_proof_files(files)
