"""The record verifier's driver: run the stages in order and hand back the one report."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from crypto.errors import InternalError, InvalidProof, MalformedInput, MixvoteError, error_class
from crypto.executor import Mapper, check_workers
from crypto.receipts import Receipt
from crypto.report import Progress, Report
from crypto.verify.ballots import check_ballots, check_closed
from crypto.verify.chain import check_chain, check_held_receipts, check_layout, check_order
from crypto.verify.decryption import (
    check_decryption,
    check_nothing_decrypted,
    check_tally,
)
from crypto.verify.election import (
    check_authors,
    check_credentials,
    check_dkg,
    check_fingerprint,
    check_nodes,
    check_params,
)
from crypto.verify.mixing import check_hops, check_verificatum
from crypto.verify.state import Abort, Run

BUG_MESSAGE = "this is a bug in mixvote, not a verdict on the record"


def _no_progress(stage: str, done: int, total: int) -> None:
    """The default ``progress``: report nothing."""


def run_stages(run: Run) -> None:
    """Every stage in order; a stage whose inputs are unusable records why and ends the run."""
    check_layout(run)
    check_chain(run)
    if not run.eid:
        raise Abort
    if run.receipts:
        check_held_receipts(run)
    check_order(run)
    check_params(run)
    check_credentials(run)
    check_nodes(run)
    check_authors(run)
    check_fingerprint(run)
    check_dkg(run)
    counted = check_ballots(run)
    closed = check_closed(run, counted)
    if closed is None:
        run.fail("hop", "cascade", "not checkable: no well-formed closed list", MalformedInput)
        return
    if not run.public_key:
        run.fail("hop", "cascade", "not checkable: no valid election key", InvalidProof)
        return
    final, excluded = check_hops(run, closed)
    check_verificatum(run, closed)
    valid = check_decryption(run, final, excluded) if final else check_nothing_decrypted(run)
    check_tally(run, final, valid)


def verify_record(
    files: Mapping[str, bytes],
    *,
    workers: int = 1,
    mapper: Mapper = map,
    server_key: bytes | None = None,
    authority_key: bytes | None = None,
    receipts: Sequence[Receipt] = (),
    receipt_server_key: bytes | None = None,
    progress: Progress | None = None,
) -> Report:
    """Check an exported election record (``docs/record.md``) held as a file map.

    ``server_key`` (32 bytes), if given, is the server's Ed25519 key as published out of band;
    the record must be signed by it. ``receipts`` are server-signed receipts someone holds
    (:mod:`crypto.receipts`): every receipted entry must be in the record at its index with its
    hash, and every receipted head a prefix of the chain; each receipt must be signed by
    ``receipt_server_key`` (default: ``server_key``, else the record's own server key), and a
    broken promise is reported as server misbehaviour with the receipt as evidence.
    ``authority_key`` (32 bytes), if given, is the credential
    authority's key, obtained from the authority: the credential list must be signed by it. The
    heavy proofs are cut into ``workers`` chunks that
    ``mapper`` runs. ``progress(stage, done, total)`` is called with stages ``chain``,
    ``ballots``, ``shuffle``, ``decryption``. Never raises for a bad record: every problem is a
    failed check. Raises :class:`InternalError` when the verifier itself fails (a bug).
    """
    check_workers(workers, "verify_record")
    if server_key is not None and len(server_key) != 32:
        raise ValueError("verify_record: server_key must be 32 bytes")
    if authority_key is not None and len(authority_key) != 32:
        raise ValueError("verify_record: authority_key must be 32 bytes")
    run = Run(files, workers, mapper, server_key, progress or _no_progress, authority_key,
              receipts=list(receipts), receipt_server_key=receipt_server_key or server_key)
    try:
        run_stages(run)
    except Abort:
        pass
    except MixvoteError as exc:
        # A record malformed in a way no specific check anticipated still fails, with its reason.
        run.fail("record", "", f"verification stopped: {type(exc).__name__}: {exc}",
                 error_class(exc))
    except Exception as exc:
        raise InternalError(f"{BUG_MESSAGE}: the verifier failed with "
                            f"{type(exc).__name__}: {exc}") from exc
    return Report(tuple(run.checks), run.eid, run.summary)
