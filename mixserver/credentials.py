"""Credentials and test elections, the part of :class:`mixserver.services.ElectionServices` that
handles the voters' credential list (``docs/trust.md``): loading an authority-signed public list,
fixing the election fingerprint once the list and every node are in, and, in a *test* election only,
the server's own authority key, the private credentials it keeps and the test ballots it casts."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from crypto import group
from crypto.credentials import (
    CredentialList,
    credential_from_private,
    decode_credential_list,
    encode_credential_list,
    format_credential,
    generate_credential,
    verify_credential_list,
)
from crypto.errors import MalformedInput, ProtocolViolation
from crypto.fingerprint import (
    election_fingerprint,
)
from crypto.io.files import write_private
from crypto.protocol.wire import Message, canonical_json, decode_body
from mixserver.board import Board

#: The test-election authority's key file in the data directory (mode 0600).
AUTHORITY_KEY_FILE = "authority_key"


class CredentialServices:
    """Mixin of :class:`mixserver.services.ElectionServices` (its board, data directory, IOLoop and
    coordinator; its ``_election``, ``get_election`` and ``cast_ballot``)."""

    db: Board
    data_dir: Path
    loop: Any
    coordinator: Any

    def test_authority(self) -> bytes:
        """The server's own credential-authority key (32-byte seed, ``authority_key``, 0600),
        made on first use; it signs only test elections' credential lists."""
        path = self.data_dir / AUTHORITY_KEY_FILE
        if path.exists():
            seed = path.read_bytes()
            if len(seed) != 32:
                raise ProtocolViolation(f"{path}: not a 32-byte authority key")
            return seed
        seed = generate_credential().private
        write_private(path, seed)
        return seed

    def upload_credentials(self, eid: str, public_list: Any) -> dict[str, Any]:
        """Load the authority-signed public credential list of a normal election (the JSON of
        ``mixvote-credentials generate``'s ``public-credentials.json``): checked (format, every
        key, the authority's signature, this election id, not a test list) and recorded as the
        ``credentials.list`` entry, once, during set-up."""
        params, phase, state = self._election(eid)
        if params.get("test"):
            raise ProtocolViolation("credentials: a test election's credentials are the "
                                    "server's; nothing to upload")
        if phase != "setup":
            raise ProtocolViolation(f"credentials: only during set-up, not in phase {phase}")
        if state.get("authority"):
            raise ProtocolViolation("credentials: the list is already loaded")
        clist = decode_credential_list(public_list)
        verify_credential_list(clist)
        if clist.election_id != eid:
            raise ProtocolViolation(f"credentials: the list is for election "
                                    f"{clist.election_id!r}, not {eid!r}")
        if clist.test:
            raise ProtocolViolation("credentials: a test list (--test) for a normal election")
        self._record_credentials(eid, clist)
        return self.get_election(eid)

    def _record_credentials(self, eid: str, clist: CredentialList) -> None:
        self.db.add_voters(eid, list(clist.credentials), clist.voter_ids())
        self.db.append_server(
            eid,
            Message("credentials.list", eid,
                    {"list": canonical_json(encode_credential_list(clist))}),
            phase="setup",
            state={"authority": clist.authority.hex()},
        )
        self._fix_fingerprint(eid)

    def credential_list(self, eid: str) -> CredentialList | None:
        """The recorded credential list of an election, or None before it is loaded."""
        import json

        found = self.db.entries_of_kind(eid, "credentials.list")
        if not found:
            return None
        obj = json.loads(decode_body(found[0].entry.body)["list"])
        return decode_credential_list(obj)

    def _fix_fingerprint(self, eid: str) -> None:
        """Once the credential list is loaded and every node enrolled, fix the fingerprint
        (kept in the election state; key generation waits for it)."""
        params, phase, state = self._election(eid)
        keys = [k for _p, k, _t in self.db.nodes(eid)]
        clist = self.credential_list(eid)
        if state.get("fingerprint") or clist is None or any(k is None for k in keys):
            return
        fp = election_fingerprint(params, clist, [k for k in keys if k is not None])
        self.db.set_phase(eid, phase, fingerprint=fp.hex())
        if self.loop is not None and self.coordinator is not None:
            # key generation waits for the fingerprint: start it if the nodes are all in
            self.loop.add_callback(self.coordinator.maybe_start_dkg, eid)

    def voter_credentials(self, eid: str) -> list[dict[str, str]]:
        """``[{voter_id, credential}]`` (the printed private credential) of a *test* election
        (admin only); a normal election's private credentials never reach the server."""
        params, _phase, _state = self._election(eid)
        if not params.get("test"):
            raise ProtocolViolation("credentials: this server holds no private credential of "
                                    "a normal election (the credential authority does)")
        return [{"voter_id": v, "credential": format_credential(p)}
                for v, p in self.db.test_credentials(eid)]

    def generate_test_ballots(
        self, eid: str, count: int, choose: Callable[[int], int] | None = None
    ) -> dict[str, Any]:
        """Cast ``count`` test ballots (choice ``choose(i)``, default round-robin) — in a *test*
        election only, and only with credentials that have not voted: a test ballot never
        replaces a voter's. Each goes through :meth:`cast_ballot`, signed like any ballot.
        Returns ``{cast, expected: {choice: n}}``."""
        from crypto.ballot import encode_ballot, encode_ballot_proof, encode_choice, prove_ballot
        from crypto.credentials import sign_ballot
        from crypto.elgamal import decode_public_key, encode_ciphertext, encrypt

        params, phase, state = self._election(eid)
        if not params.get("test"):
            raise ProtocolViolation("test ballots: only in a test election (in a normal "
                                    "election the server cannot cast a ballot)")
        if phase != "voting":
            raise ProtocolViolation(f"test ballots: voting is not open (phase {phase})")
        creds = self.db.test_credentials(eid, unvoted=True)
        if not isinstance(count, int) or isinstance(count, bool) or not 0 <= count <= len(creds):
            raise MalformedInput(f"count: an integer from 0 to {len(creds)} (the credentials "
                                 "that have not voted)")
        g = group(params["group"])
        pk = decode_public_key(g, bytes.fromhex(state["public_key"]))
        fingerprint = bytes.fromhex(state["fingerprint"])
        expected: dict[str, int] = {}
        for i, (voter_id, private) in enumerate(creds[:count]):
            choice = (choose or (lambda j: j % len(params["choices"])))(i)
            ct, r = encrypt(pk, encode_ballot(g, encode_choice(choice), params["width"]))
            proof = encode_ballot_proof(g, prove_ballot(pk, ct, r, eid, voter_id))
            row = encode_ciphertext(g, ct)
            ballot = {
                "credential": credential_from_private(private).public.hex(),
                "width": params["width"],
                "ciphertext": row.hex(),
                "proof": proof.hex(),
                "signature": sign_ballot(private, fingerprint, row, proof).hex(),
            }
            self.cast_ballot(eid, ballot, test=True)
            name = params["choices"][choice]
            expected[name] = expected.get(name, 0) + 1
        return {"cast": count, "expected": expected}
