"""The worked ballot of ``docs/record.md`` (Appendix A), every value computed:
``python -m tests.conformance.worked_ballot`` prints the Markdown of the appendix, and
``tests/conformance/test_conformance.py`` checks that the document holds exactly this text.

One width-1 ballot on secp256k1 for choice 1, with fixed secrets (never do this in an election):
the election key, the encryption exponent, the proof nonce, the voter's credential seed, the
election fingerprint and the server's signing seed are constants below, so every value is
reproducible by an independent implementation.
"""

from __future__ import annotations

import hashlib

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from crypto.ballot import encode_ballot_proof, encode_choice, prove_ballot_with
from crypto.credentials import (
    ballot_signing_input,
    credential_from_private,
    sign_ballot,
    voter_id,
)
from crypto.elgamal import PublicKey, encode_ciphertext, encrypt_with
from crypto.encoding import lp
from crypto.groups import group
from crypto.groups.weierstrass import rhs, sqrt_mod
from crypto.hashing import PROJECT_TAG, hash_bytes
from crypto.protocol.wire import SCHEMAS, Message, encode_body
from crypto.record import Entry, public_key_bytes, sign_body, signing_input

ELECTION_ID = "worked1"
SECRET_KEY = 0x2A2A2A2A2A2A2A2A2A2A2A2A2A2A2A2A2A2A2A2A2A2A2A2A2A2A2A2A2A2A2A2A
R = 0x1111111111111111111111111111111111111111111111111111111111111111
NONCE = 0x2222222222222222222222222222222222222222222222222222222222222222
CREDENTIAL_SEED = bytes(range(32))
FINGERPRINT = hashlib.sha256(b"worked example fingerprint").digest()
SERVER_SEED = bytes([0x5E]) * 32
PREV = hashlib.sha256(b"worked example previous entry").digest()
INDEX = 16


def hexs(data: bytes) -> str:
    return data.hex()


def wrap(label: str, data: bytes, width: int = 64) -> list[str]:
    h = data.hex()
    lines = [h[i:i + width] for i in range(0, len(h), width)] or [""]
    out = [f"{label:<28} {lines[0]}"]
    out += [f"{'':<28} {line}" for line in lines[1:]]
    return out


def render() -> str:
    g = group("secp256k1")
    q = g.order
    lines: list[str] = []
    add = lines.extend

    y = g.base_mul(SECRET_KEY)
    pk = PublicKey(g, y)
    payload = encode_choice(1)
    cap = g.embed_capacity
    body = bytes([len(payload)]) + payload + bytes(cap - len(payload))
    tried = []
    for counter in range(256):
        x = int.from_bytes(body + bytes([counter]), "big")
        ok = sqrt_mod(rhs(g, x), g.field_prime) is not None  # type: ignore[attr-defined]
        tried.append((counter, ok))
        if ok:
            break
    m = g.embed(payload)
    alpha_beta = encrypt_with(pk, [m], [R])
    ct_bytes = encode_ciphertext(g, alpha_beta)
    a_point = g.base_mul(NONCE)
    cred = credential_from_private(CREDENTIAL_SEED)
    vid = voter_id(cred.public)
    proof = prove_ballot_with(pk, alpha_beta, [R], [NONCE], ELECTION_ID, vid)
    proof_bytes = encode_ballot_proof(g, proof)
    parts = [ELECTION_ID.encode(), vid.encode(), g.encode(y), ct_bytes, g.encode(a_point)]
    size = (q.bit_length() + 128 + 7) // 8
    shake_input = (lp(PROJECT_TAG + b"ballot-pok") + len(parts).to_bytes(4, "big")
                   + b"".join(lp(p) for p in parts))
    digest = hash_bytes("ballot-pok", *parts, size=size)
    signing = ballot_signing_input(FINGERPRINT, ct_bytes, proof_bytes)
    signature = sign_ballot(CREDENTIAL_SEED, FINGERPRINT, ct_bytes, proof_bytes)
    server = Ed25519PrivateKey.from_private_bytes(SERVER_SEED)
    fields: dict[str, object] = {"width": 1, "ciphertext": ct_bytes, "proof": proof_bytes}
    names = [name for name, _type, _size in SCHEMAS["ballot"]]
    if "credential" in names:  # the trust model's ballot: the public credential and signature
        fields.update(credential=cred.public, signature=signature)
    else:
        fields.update(voter_id=vid)
    msg = Message("ballot", ELECTION_ID, {name: fields[name] for name in names})
    entry_body = encode_body(msg)
    entry = Entry(ELECTION_ID, INDEX, PREV, public_key_bytes(server),
                  sign_body(server, entry_body), entry_body)

    add(["```",
         "Inputs (fixed for the example)",
         f"group                        secp256k1 (element_size 33, scalar_size 32, "
         f"embed_capacity {cap})",
         f"election id                  {ELECTION_ID!r}",
         *wrap("secret key x", SECRET_KEY.to_bytes(32, "big")),
         *wrap("election key y = x·G", g.encode(y)),
         "choice                       1",
         "",
         "1. Payload (§5.1)",
         *wrap("payload = 01 || u16(1)", payload),
         "",
         "2. Embedding (§4.3): x = len || payload || zero padding || counter, "
         f"{cap + 2} bytes",
         *[f"counter {c:3d}: x = {(body + bytes([c])).hex()}  "
           f"{'on the curve' if ok else 'x^3 + 7 is not a square'}" for c, ok in tried],
         *wrap("M = embed(payload) (02 || x)", g.encode(m)),
         "",
         "3. Encryption (§4.4)",
         *wrap("r", R.to_bytes(32, "big")),
         *wrap("alpha = r·G", g.encode(alpha_beta.alpha[0])),
         *wrap("beta = r·y + M", g.encode(alpha_beta.beta[0])),
         *wrap("ciphertext = alpha || beta", ct_bytes),
         "",
         "4. Voter credential (docs/trust.md)",
         *wrap("credential seed", CREDENTIAL_SEED),
         *wrap("public credential", cred.public),
         f"{'voter id':<28} {vid}",
         "",
         "5. Ballot proof (§6.3)",
         *wrap("nonce a", NONCE.to_bytes(32, "big")),
         *wrap("A = a·G", g.encode(a_point)),
         *wrap("SHAKE-256 input", shake_input),
         *wrap(f"SHAKE-256 output ({size} B)", digest),
         *wrap("c = output mod q", proof.c.to_bytes(32, "big")),
         *wrap("z = a + c·r mod q", proof.z[0].to_bytes(32, "big")),
         *wrap("proof = c || z", proof_bytes),
         "",
         "6. Voter signature (docs/trust.md)",
         *wrap("election fingerprint", FINGERPRINT),
         *wrap("signed bytes", signing),
         *wrap("signature (Ed25519)", signature),
         "",
         "7. Board entry and tracker (§3)",
         *wrap("server signing seed", SERVER_SEED),
         *wrap("server key", public_key_bytes(server)),
         f"{'entry index':<28} {INDEX}",
         *wrap("prev", PREV),
         *wrap("body", entry_body),
         *wrap("server signs", signing_input(entry_body)),
         *wrap("entry signature", entry.signature),
         *wrap("entry", entry.encode()),
         *wrap("tracker = SHA-256(entry)", entry.hash()),
         "```"])
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(render(), end="")
