"""The voter's side as a library, behind ``mixvote-vote`` (:mod:`crypto.io.voter`) and the load
benchmark: an election's parameters validated as they come from the server, the HTTP client, making
a ballot exactly as the browser booth does (``make_ballot_with``;
``webui/static/js/mixvote-crypto.js`` ``makeBallot``), Benaloh audits, and the signed receipts and
their check on the board."""

from __future__ import annotations

import hashlib
import http.client
import json
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import tenacity

from crypto import GROUPS, group
from crypto.ballot import (
    decode_ballot,
    decode_ballot_proof,
    decode_choice,
    encode_ballot,
    encode_ballot_proof,
    encode_choice,
    prove_ballot_with,
    verify_ballot,
)
from crypto.credentials import (
    Credential,
    check_election_id,
    credential_from_private,
    parse_credential,
    sign_ballot,
)
from crypto.elgamal import (
    PublicKey,
    decode_ciphertext,
    decode_public_key,
    encode_ciphertext,
    encrypt_with,
)
from crypto.errors import (
    InvalidProof,
    MalformedInput,
    MixvoteError,
    ProtocolViolation,
    UnknownElection,
    UsageError,
)
from crypto.fingerprint import format_fingerprint
from crypto.groups.base import RNG, SYSTEM_RNG, Group
from crypto.receipts import Receipt, decode_receipt, encode_receipt, verify_receipt

RECEIPT_KIND = "mixvote-receipt"
AUDIT_KIND = "mixvote-audited-ballot"
AUDIT_VERSION = 1
MAX_FILE_BYTES = 1 << 20
MAX_RESPONSE_BYTES = 16 << 20
HEX_DIGITS = frozenset("0123456789abcdef")


class ServerError(MixvoteError):
    """The server could not be reached or answered something that is not the API's."""


# --- validated values from outside ------------------------------------------------------------
def hex_value(value: object, what: str, size: int | None = None, limit: int = 1 << 17) -> bytes:
    """Lower- or upper-case hex of ``size`` bytes (any size up to ``limit`` digits if None)."""
    if not isinstance(value, str) or len(value) > limit or len(value) % 2:
        raise MalformedInput(f"{what}: expected a hex string")
    try:
        data = bytes.fromhex(value)
    except ValueError:
        raise MalformedInput(f"{what}: not hex") from None
    if size is not None and len(data) != size:
        raise MalformedInput(f"{what}: expected {size} bytes, got {len(data)}")
    return data


@dataclass(frozen=True)
class Election:
    """What a voter needs of ``GET /api/elections/<eid>``, validated."""

    id: str
    title: str
    question: str
    choices: tuple[str, ...]
    phase: str
    group: Group
    width: int
    policy: str
    test: bool
    fingerprint: bytes | None
    public_key: PublicKey | None

    @property
    def fingerprint_display(self) -> str:
        return format_fingerprint(self.fingerprint) if self.fingerprint else "(not fixed yet)"

    def require_key(self) -> tuple[PublicKey, bytes]:
        """The election key and fingerprint, or a refusal before key generation has finished."""
        if self.public_key is None or self.fingerprint is None:
            raise ProtocolViolation(
                f"election {self.id} has no key yet (phase {self.phase}): try again once key "
                "generation has finished"
            )
        return self.public_key, self.fingerprint


def parse_election(obj: object, eid: str) -> Election:
    """Validate the server's description of election ``eid``."""
    if not isinstance(obj, Mapping):
        raise ServerError("the server's election description is not a JSON object")
    try:
        if obj.get("id") != eid:
            raise MalformedInput(f"the server described election {obj.get('id')!r}, not {eid!r}")
        title, question, phase, policy = (obj[k] for k in ("title", "question", "phase", "policy"))
        choices = obj["choices"]
        if not all(isinstance(v, str) for v in (title, question, phase, policy)):
            raise MalformedInput("title, question, phase and policy must be text")
        if not isinstance(choices, list) or not choices or not all(
            isinstance(c, str) for c in choices
        ):
            raise MalformedInput("choices must be a non-empty list of text")
        if obj["group"] not in GROUPS:
            raise MalformedInput(f"unknown group {str(obj['group'])[:40]!r}")
        g = group(obj["group"])
        width = obj["width"]
        if not isinstance(width, int) or isinstance(width, bool) or not 1 <= width <= 64:
            raise MalformedInput("width must be an integer from 1 to 64")
        fp_hex, pk_hex = obj.get("fingerprint"), obj.get("public_key")
        fingerprint = hex_value(fp_hex, "fingerprint", 32) if fp_hex is not None else None
        pk = decode_public_key(g, hex_value(pk_hex, "public key", limit=1024)) if pk_hex else None
        return Election(eid, title, question, tuple(choices), phase, g, width, policy,
                        obj.get("test_election") is True, fingerprint, pk)  # fmt: skip
    except KeyError as exc:
        raise ServerError(f"the server's election description lacks {exc}") from None
    except MalformedInput as exc:
        raise ServerError(f"the server's election description is invalid: {exc}") from None


def choice_index(election: Election, text: str) -> int:
    """The 0-based index of ``--choice``: a number as ``show`` prints it (from 1) or a choice's
    name (exact, else case-insensitive and unique)."""
    text = text.strip()
    if text.isdigit():
        number = int(text)
        if not 1 <= number <= len(election.choices):
            raise UsageError(
                f"--choice {text}: this election has choices 1 to {len(election.choices)}"
            )
        return number - 1
    if text in election.choices:
        return election.choices.index(text)
    folded = [i for i, c in enumerate(election.choices) if c.casefold() == text.casefold()]
    if len(folded) == 1:
        return folded[0]
    names = ", ".join(f"{i + 1} {c!r}" for i, c in enumerate(election.choices))
    raise UsageError(f"--choice {text[:60]!r} is not a choice of this election ({names})")


def read_credential(path: Path) -> Credential:
    """The private credential in ``path``: the card ``mixvote-credentials`` prints (its
    ``Credential:`` line) or just the credential's 56 letters and digits."""
    text = _read_text(path, "credential")
    lines = [ln for ln in text.splitlines() if ln.strip().lower().startswith("credential:")]
    if len(lines) > 1:
        raise UsageError(f"{path}: more than one credential line")
    candidate = lines[0].split(":", 1)[1] if lines else text
    try:
        return credential_from_private(parse_credential(candidate))
    except MalformedInput as exc:
        raise UsageError(f"{path}: not a voter credential ({exc})") from None


def _read_text(path: Path, what: str) -> str:
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            raise UsageError(f"{path}: too large to be a {what} file")
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"{path}: cannot read the {what} ({exc})") from None


def read_json(path: Path, what: str) -> Any:
    try:
        return json.loads(_read_text(path, what))
    except ValueError:
        raise UsageError(f"{path}: not a {what} (not JSON)") from None


# --- HTTP -----------------------------------------------------------------------------------
#: Failures worth another attempt: the connection was refused, reset or timed out.
_TRANSIENT = (ConnectionError, TimeoutError, urllib.error.URLError)
_STATUS_ERRORS: dict[int, type[MixvoteError]] = {
    400: MalformedInput, 403: ProtocolViolation, 404: UnknownElection, 409: ProtocolViolation,
    422: InvalidProof,
}  # fmt: skip


class Client:
    """The election server's JSON API (``docs/protocol.md``) over urllib. Reads are retried on
    connection failures (tenacity); a ballot is retried only when the connection was refused,
    so that it is never submitted twice."""

    def __init__(self, base: str, timeout: float = 60.0, attempts: int = 4) -> None:
        self.base = base.rstrip("/")
        self.timeout = timeout
        self.attempts = attempts

    def _once(self, method: str, path: str, body: bytes | None) -> tuple[int, Any]:
        request = urllib.request.Request(
            self.base + path, data=body, method=method,
            headers={"Accept": "application/json", "Content-Type": "application/json"},
        )  # fmt: skip
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as resp:
                status, raw = resp.status, resp.read(MAX_RESPONSE_BYTES + 1)
        except urllib.error.HTTPError as exc:
            status, raw = exc.code, exc.read(MAX_RESPONSE_BYTES + 1)
        if len(raw) > MAX_RESPONSE_BYTES:
            raise ServerError(f"{method} {path}: the answer is too large")
        try:
            return status, json.loads(raw or b"null")
        except ValueError:
            raise ServerError(f"{method} {path}: HTTP {status} with a body that is not JSON "
                              "(is this a mixvote server?)") from None

    def request(self, method: str, path: str, body: Any = None) -> Any:
        """The decoded JSON answer; an HTTP error becomes the hierarchy's error with the server's
        reason, an unreachable server a :class:`ServerError`."""
        data = json.dumps(body).encode() if body is not None else None

        def transient(exc: BaseException) -> bool:
            if method == "GET":
                return isinstance(exc, _TRANSIENT) and not isinstance(exc, urllib.error.HTTPError)
            reason = getattr(exc, "reason", exc)
            return isinstance(reason, ConnectionRefusedError)

        retrying = tenacity.Retrying(
            stop=tenacity.stop_after_attempt(self.attempts),
            wait=tenacity.wait_random_exponential(multiplier=0.2, max=2.0),
            retry=tenacity.retry_if_exception(transient),
            reraise=True,
        )
        try:
            status, answer = retrying(self._once, method, path, data)
        except (OSError, urllib.error.URLError) as exc:
            reason = getattr(exc, "reason", exc)
            raise ServerError(f"cannot reach the server at {self.base} ({reason})") from None
        except http.client.HTTPException as exc:
            raise ServerError(f"{self.base} does not speak HTTP as a mixvote server does "
                              f"({type(exc).__name__})") from None
        if status >= 400:
            message = answer.get("error") if isinstance(answer, dict) else None
            cls = _STATUS_ERRORS.get(status, ServerError)
            raise cls(f"the server refused ({status}): {str(message or answer)[:300]}")
        return answer

    def election(self, eid: str) -> Election:
        return parse_election(self.request("GET", f"/api/elections/{quote(eid)}"), eid)

    def board_entry(self, eid: str, index: int) -> dict[str, Any] | None:
        """Board entry ``index`` as the API describes it, or None past the end."""
        page = self.request("GET", f"/api/elections/{quote(eid)}/board?offset={index}&limit=1")
        entries = page.get("entries") if isinstance(page, dict) else None
        if not isinstance(entries, list):
            raise ServerError("the board page is not the API's")
        if not entries:
            return None
        entry = entries[0]
        if not isinstance(entry, dict) or entry.get("index") != index:
            raise ServerError(f"the board answered another entry than {index}")
        return entry

    def server_key(self, eid: str) -> bytes:
        """The server's receipt-signing key, as the election published it: the ``server_key`` of
        its first board entry (``election.params``)."""
        entry = self.board_entry(eid, 0)
        if entry is None or entry.get("kind") != "election.params":
            raise ServerError("the board does not start with the election's parameters")
        return hex_value(entry.get("server_key"), "server key", 32)


# --- ballots -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class MadeBallot:
    """A ballot as the booth makes it: its wire form and the secrets that open it."""

    wire: dict[str, Any]  # {"ciphertext": hex, "proof": hex, "width": w}
    randomness: tuple[int, ...]
    voter_id: str

    @property
    def tracker(self) -> str:
        """The voter-facing tracker, the booth's: hex SHA-256 of the ciphertext bytes."""
        return hashlib.sha256(bytes.fromhex(self.wire["ciphertext"])).hexdigest()


def make_ballot_with(
    pk: PublicKey, eid: str, voter_id: str, choice: int, width: int,
    randomness: Sequence[int], nonces: Sequence[int],
) -> MadeBallot:  # fmt: skip
    """The booth's ``makeBallot`` with fixed randomness and nonces: the same bytes."""
    g = pk.group
    ct = encrypt_with(pk, encode_ballot(g, encode_choice(choice), width), randomness)
    proof = prove_ballot_with(pk, ct, randomness, nonces, eid, voter_id)
    wire = {"ciphertext": encode_ciphertext(g, ct).hex(),
            "proof": encode_ballot_proof(g, proof).hex(), "width": width}  # fmt: skip
    return MadeBallot(wire, tuple(r % g.order for r in randomness), voter_id)


def make_ballot(
    pk: PublicKey, eid: str, voter_id: str, choice: int, width: int, rng: RNG | None = None
) -> MadeBallot:
    """A fresh ballot (randomness and nonces from ``rng``, default the OS CSPRNG)."""
    g = pk.group
    rng = rng or SYSTEM_RNG
    r = [g.random_scalar(rng) for _ in range(width)]
    a = [g.random_scalar(rng) for _ in range(width)]
    return make_ballot_with(pk, eid, voter_id, choice, width, r, a)


def signed_ballot(made: MadeBallot, credential: Credential, fingerprint: bytes) -> dict[str, Any]:
    """The body of ``POST /api/elections/<eid>/ballots`` (the booth's ``signedBallot``)."""
    row, proof = bytes.fromhex(made.wire["ciphertext"]), bytes.fromhex(made.wire["proof"])
    return {
        "credential": credential.public.hex(),
        "width": made.wire["width"],
        "ciphertext": made.wire["ciphertext"],
        "proof": made.wire["proof"],
        "signature": sign_ballot(credential.private, fingerprint, row, proof).hex(),
    }


@dataclass(frozen=True)
class AuditReport:
    """What an audit found: the choice the ballot opens to (or None) and each check."""

    choice: int | None
    checks: tuple[tuple[str, bool], ...]

    @property
    def ok(self) -> bool:
        return self.choice is not None and all(ok for _what, ok in self.checks)


def audit_ballot(
    pk: PublicKey, eid: str, voter_id: str, wire: Mapping[str, Any], randomness: Sequence[int]
) -> AuditReport:
    """The Benaloh check of an opened ballot, independent of how it was made (the booth's
    ``auditBallot``): every alpha_k is r_k·g; beta_k − r_k·y decodes to a choice; encrypting that
    choice with the same r gives the same bytes; the proof verifies for this election and voter."""
    g = pk.group
    checks: list[tuple[str, bool]] = []
    choice: int | None = None
    try:
        width = wire["width"]
        row = hex_value(wire["ciphertext"], "ciphertext")
        ct = decode_ciphertext(g, row, width)
        checks.append(("the ciphertext decodes (valid group elements)", True))
        rs = [r % g.order for r in randomness]
        alpha_ok = len(rs) == width and g.first_unequal(list(ct.alpha), g.batch_base_mul(rs)) == -1
        checks.append(("alpha_k = r_k·g for every position", alpha_ok))
        if not alpha_ok:
            raise InvalidProof("the randomness does not open this ciphertext")
        messages = [g.sub(b, m) for b, m in zip(ct.beta, g.batch_mul_fixed(pk.y, rs), strict=True)]
        opened = decode_choice(decode_ballot(g, messages))
        if not isinstance(opened, int):
            raise MalformedInput("the ballot holds a ranking or a write-in, not one choice")
        checks.append(("beta_k − r_k·y decodes to a choice", True))
        again = encrypt_with(pk, encode_ballot(g, encode_choice(opened), width), rs)
        checks.append(("re-encrypting that choice gives the same ciphertext",
                       encode_ciphertext(g, again) == row))  # fmt: skip
        try:
            proof = decode_ballot_proof(g, hex_value(wire["proof"], "proof"), width)
            verify_ballot(pk, ct, proof, eid, voter_id)
            proof_ok = True
        except MixvoteError:
            proof_ok = False
        checks.append(("the proof of knowledge verifies for this election and credential",
                       proof_ok))  # fmt: skip
        choice = opened
    except (MixvoteError, KeyError, TypeError, ValueError) as exc:
        checks.append((f"audit failed: {exc}", False))
    return AuditReport(choice, tuple(checks))


def audit_document(election: Election, made: MadeBallot) -> dict[str, Any]:
    """The booth's audit JSON (``webui/static/js/booth.js``): readable by the audit page."""
    return {
        "kind": AUDIT_KIND,
        "version": AUDIT_VERSION,
        "election": election.id,
        "group": election.group.name,
        "voter_id": made.voter_id,
        "tracker": made.tracker,
        "ballot": dict(made.wire),
        "randomness": [str(r) for r in made.randomness],
    }


def parse_audit(doc: object) -> tuple[str, str, dict[str, Any], list[int]]:
    """Validate an audit file as the audit page does (``parseAudit``): (election id, voter id,
    ballot wire, randomness)."""
    if not isinstance(doc, dict) or doc.get("kind") != AUDIT_KIND:
        raise UsageError("this is not an audit from a mixvote booth (kind "
                         f"{AUDIT_KIND!r} expected)")  # fmt: skip
    eid, voter, ballot, randomness = (doc.get(k) for k in ("election", "voter_id", "ballot",
                                                           "randomness"))  # fmt: skip
    ok = (
        isinstance(eid, str) and isinstance(voter, str) and 0 < len(voter) <= 128
        and all(c in HEX_DIGITS for c in voter.lower()) and isinstance(ballot, dict)
        and isinstance(ballot.get("ciphertext"), str) and isinstance(ballot.get("proof"), str)
        and isinstance(ballot.get("width"), int) and not isinstance(ballot.get("width"), bool)
        and isinstance(randomness, list) and len(randomness) == ballot.get("width")
        and all(isinstance(r, str) and r.isdigit() and r.isascii() and len(r) <= 100
                for r in randomness)
    )  # fmt: skip
    if not ok:
        raise UsageError("this audit is damaged: some of its parts are missing or malformed")
    assert isinstance(eid, str) and isinstance(voter, str) and isinstance(ballot, dict)
    assert isinstance(randomness, list)
    try:
        check_election_id(eid, "audit election")
    except MalformedInput as exc:
        raise UsageError(str(exc)) from None
    return eid, voter, ballot, [int(r) for r in randomness]


# --- receipts ------------------------------------------------------------------------------------
def receipt_document(election: Election, made: MadeBallot, receipt: Receipt) -> dict[str, Any]:
    """The receipt file, in the booth's format (``booth.js``)."""
    assert election.fingerprint is not None
    return {
        "kind": RECEIPT_KIND,
        "election": election.id,
        "voter_id": made.voter_id,
        "tracker": made.tracker,
        "board_entry": receipt.index,
        "entry_hash": receipt.entry_hash.hex(),
        "cast_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "fingerprint": election.fingerprint.hex(),
        "server_receipt": encode_receipt(receipt),
    }


def check_cast_answer(
    answer: object, eid: str, made: MadeBallot, server_key: bytes
) -> Receipt:
    """The server's answer to a ballot: its receipt, signed by ``server_key``, for this ballot's
    entry (raises InvalidProof otherwise: the ballot may not be on the board)."""
    if not isinstance(answer, dict):
        raise ServerError("the server's answer to the ballot is not a JSON object")
    try:
        receipt = decode_receipt(answer.get("receipt"))
    except MalformedInput as exc:
        raise InvalidProof(f"the server's receipt is malformed ({exc})") from None
    verify_receipt(receipt, server_key)
    if receipt.election_id != eid:
        raise InvalidProof(f"the receipt is for election {receipt.election_id!r}, not {eid!r}")
    if answer.get("index") != receipt.index or answer.get("tracker") != receipt.entry_hash.hex():
        raise InvalidProof("the receipt does not name the entry the server said it appended")
    if answer.get("voter_id") != made.voter_id:
        raise InvalidProof("the server recorded the ballot under another voter id")
    return receipt


def parse_receipt_file(doc: object) -> tuple[dict[str, Any], Receipt]:
    """A receipt file (booth or ``cast``): the document and its server receipt."""
    if not isinstance(doc, dict) or doc.get("kind") != RECEIPT_KIND:
        raise UsageError(f"this is not a mixvote receipt (kind {RECEIPT_KIND!r} expected)")
    try:
        receipt = decode_receipt(doc.get("server_receipt"))
        for key in ("tracker", "entry_hash", "fingerprint"):
            hex_value(doc.get(key), f"receipt {key}", 32)
        if not isinstance(doc.get("voter_id"), str) or doc.get("election") != receipt.election_id:
            raise MalformedInput("the receipt's voter id or election is missing or inconsistent")
        if doc.get("entry_hash") != receipt.entry_hash.hex() or doc.get("board_entry") != (
            receipt.index
        ):
            raise MalformedInput("the receipt's entry does not match its server receipt")
    except MalformedInput as exc:
        raise UsageError(f"this receipt is damaged ({exc})") from None
    return doc, receipt


@dataclass(frozen=True)
class CheckResult:
    index: int
    entry_hash: str
    counted: bool
    server_key: str
    head_size: int
    tracker_checked: bool


def check_receipt_on_board(
    client: Client, doc: Mapping[str, Any], receipt: Receipt
) -> CheckResult:
    """Find the receipted ballot on the board and check it; raises InvalidProof naming the
    server misbehaviour the signed receipt proves (a missing or altered entry or head)."""
    eid = receipt.election_id
    server_key = client.server_key(eid)
    verify_receipt(receipt, server_key)
    entry = client.board_entry(eid, receipt.index)
    evidence = f"(evidence: {receipt.describe()})"
    if entry is None:
        raise InvalidProof(f"server misbehaviour: the receipted entry {receipt.index} is not on "
                           f"the board {evidence}")  # fmt: skip
    if entry.get("hash") != receipt.entry_hash.hex():
        raise InvalidProof(f"server misbehaviour: entry {receipt.index} on the board has hash "
                           f"{str(entry.get('hash'))[:16]}…, not the receipted one {evidence}")
    if entry.get("kind") != "ballot" or entry.get("voter_id") != doc["voter_id"]:
        raise InvalidProof(f"entry {receipt.index} is not this voter's ballot {evidence}")
    tracker_checked = False
    ciphertext = entry.get("ciphertext")
    if isinstance(ciphertext, str) and not ciphertext.startswith("<"):
        if hashlib.sha256(hex_value(ciphertext, "board ciphertext")).hexdigest() != doc["tracker"]:
            raise InvalidProof(f"the ballot at entry {receipt.index} does not have the tracker "
                               f"{doc['tracker'][:16]}… of the receipt")  # fmt: skip
        tracker_checked = True
    head = client.board_entry(eid, receipt.head_size - 1)
    if head is None or head.get("hash") != receipt.head_hash.hex():
        raise InvalidProof(f"server misbehaviour: the receipted head (entry "
                           f"{receipt.head_size - 1}) is missing or altered {evidence}")
    path = f"/api/elections/{quote(eid)}/receipts/{receipt.entry_hash.hex()}"
    found = client.request("GET", path)
    if not isinstance(found, dict) or not isinstance(found.get("counted"), bool):
        raise ServerError("the server's receipt lookup is not the API's")
    return CheckResult(receipt.index, receipt.entry_hash.hex(), found["counted"],
                       server_key.hex(), receipt.head_size, tracker_checked)  # fmt: skip
