"""Where the server's time goes per hop: each step it runs for a node's ``mix.result``, replayed
offline from a finished election's board and timed alone (CPU seconds, one core).

    mixdemo --ballots 10000 --nodes 3 --threshold 2 --data DIR
    python -m experiments.hop_costs DIR

Steps, in the server's order: reassembling the chunked websocket frame, the Ed25519 signature
check and the body decoding (``crypto.protocol.wire.decode_frame``), then the hop check of
``crypto.verify.check_hop`` split into decoding the input and output lists, deriving the
generators (once per election and process: cached after the first hop), decoding the proof
files and verifying the proof, and finally the board append (``mixserver.board.Board.append``,
on a copy of the board). Hop 1's lists are the cast ballots, which the board does not hold as
one list, so its check is left out.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

from crypto.elgamal import decode_ciphertexts, decode_public_key
from crypto.groups import group
from crypto.protocol.wire import (
    Reassembler,
    decode_body,
    decode_proof_files,
    encode_frame,
    shuffle_sid,
    split_frame,
    verify_body_signature,
)
from crypto.shuffle import ShuffleSession, decode_proof, verify_shuffle
from mixserver.board import Board


def hop_costs(data: Path) -> list[dict[str, float]]:
    """One dict of step → CPU seconds per mix.result on the board under ``data``."""
    db = sqlite3.connect(data / "server" / "board.sqlite3")
    eid, params_text, state_text = db.execute("SELECT eid, params, state FROM elections").fetchone()
    params, state = json.loads(params_text), json.loads(state_text)
    rows = db.execute(
        "SELECT body, author, signature FROM entries WHERE eid = ? AND kind = 'mix.result' "
        "ORDER BY idx",
        (eid,),
    ).fetchall()
    g, width = group(params["group"]), params["width"]
    pk_bytes = bytes.fromhex(state["public_key"])
    clock = time.process_time
    out: list[dict[str, float]] = []
    previous: bytes | None = None
    with tempfile.TemporaryDirectory() as tmp:
        shutil.copytree(data / "server", Path(tmp) / "server")
        board = Board(Path(tmp) / "server")
        for body, author, signature in rows:
            body, author, signature = bytes(body), bytes(author), bytes(signature)
            cost: dict[str, float] = {"bytes": float(len(body))}
            parts = split_frame(encode_frame(body, author, signature))
            t = clock()
            reassembler = Reassembler()
            for part in parts:
                reassembler.feed(part)
            cost["reassemble"] = clock() - t
            t = clock()
            verify_body_signature(author, body, signature, "frame")
            cost["signature"] = clock() - t
            t = clock()
            msg = decode_body(body)
            cost["body decode"] = clock() - t
            if previous is not None:
                t = clock()
                pk = decode_public_key(g, pk_bytes)
                inputs = decode_ciphertexts(g, previous, width)
                outputs = decode_ciphertexts(g, msg["outputs"], width)
                cost["decode lists"] = clock() - t
                t = clock()
                session = ShuffleSession(g, shuffle_sid(eid))
                session.generators(len(inputs))
                cost["generators"] = clock() - t
                t = clock()
                files = decode_proof_files(msg["proof"])
                proof = decode_proof(session, files, len(inputs), width)
                cost["decode proof"] = clock() - t
                t = clock()
                verify_shuffle(session, pk, inputs, outputs, proof)
                cost["verify proof"] = clock() - t
            t = clock()
            board.append(eid, "mix.result", body, author, signature)
            cost["db append"] = clock() - t
            previous = msg["outputs"]
            out.append(cost)
    return out


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m experiments.hop_costs DATA_DIR (mixdemo's --data)", file=sys.stderr)
        return 2
    for hop, cost in enumerate(hop_costs(Path(args[0])), start=1):
        steps = ", ".join(f"{k} {v * 1000:.0f} ms" for k, v in cost.items() if k != "bytes")
        print(f"hop {hop}: {cost['bytes']:,.0f} bytes; {steps}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
