"""The formulas of ``docs/record.md``, re-implemented from the text alone (hashlib for the hashes,
byte slicing for the encodings; mixvote's group only for point arithmetic), against honest
conformance vectors: the entry and body layout and the chain (§3), the DKG parameter digest and
proof of knowledge (§6.1), the ballot proof (§6.2), the decryption share with its three-level
context (§6.3) and the embedding (§4.3). If the text and the code ever disagree, this fails."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from crypto.groups import Group, group

VECTORS = Path(__file__).resolve().parent / "vectors"


# --- §1 ------------------------------------------------------------------------------------------
def u32(n: int) -> bytes:
    return n.to_bytes(4, "big")


def lp(x: bytes) -> bytes:
    return u32(len(x)) + x


def h(tag: str, *parts: bytes, size: int = 32) -> bytes:
    data = lp(b"mixvote/v1/" + tag.encode()) + u32(len(parts)) + b"".join(lp(p) for p in parts)
    return hashlib.shake_256(data).digest(size)


def hq(g: Group, tag: str, *parts: bytes) -> int:
    size = (g.order.bit_length() + 128 + 7) // 8
    return int.from_bytes(h(tag, *parts, size=size), "big") % g.order


class Cursor:
    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def take(self, n: int) -> bytes:
        out = self.data[self.pos:self.pos + n]
        assert len(out) == n
        self.pos += n
        return out

    def int(self, n: int) -> int:
        return int.from_bytes(self.take(n), "big")

    def lp(self) -> bytes:
        return self.take(self.int(4))


# --- §3 ------------------------------------------------------------------------------------------
BOUND = "bib"  # fingerprint:b, seen_size:i, seen_head:b (the trust model's node entries)
SCHEMA = {  # the field types of §3.2, per kind
    "election.params": "bb", "credentials.list": "b", "node.enrolled": "ib",
    "node.endorse": BOUND, "dkg.deal": "b" + BOUND, "dkg.complaint": "b" + BOUND,
    "dkg.response": "b" + BOUND, "dkg.result": "bll", "voting.opened": "b", "ballot": "bibbb",
    "voting.closed": "iibl", "mix.result": "sbbl" + BOUND, "job.failed": "ss" + BOUND,
    "hop.verdict": "iissibiiii", "decrypt.share": "sbb" + BOUND, "decrypt.verdict": "issi",
    "tally": "bl"}


def parse_record(name: str) -> tuple[dict[str, Any], list[tuple[str, list[Any], bytes]]]:
    root = VECTORS / name
    meta = json.loads((root / "election.json").read_text())
    entries = []
    prev = bytes(32)
    for row in json.loads((root / "index.json").read_text()):
        raw = (root / row["file"]).read_bytes()
        c = Cursor(raw)
        assert c.take(4) == b"MXR1"
        assert c.lp().decode() == meta["election"]
        assert c.int(8) == row["index"]
        assert c.take(32) == prev
        author, _signature, body = c.lp(), c.lp(), c.lp()
        assert c.pos == len(raw) and author.hex() == row["author"]
        prev = hashlib.sha256(raw).digest()
        assert prev.hex() == row["hash"]
        b = Cursor(body)
        assert b.take(4) == b"MXW1"
        kind = b.lp().decode()
        assert kind == row["kind"] and b.lp().decode() == meta["election"]
        b.lp()
        b.int(8)
        fields: list[Any] = []
        for t in SCHEMA[kind]:
            if t == "i":
                fields.append(b.int(8))
            elif t == "l":
                items = Cursor(b.lp())
                fields.append([items.lp() for _ in range(items.int(4))])
            else:
                raw_field = b.lp()
                fields.append(raw_field.decode() if t == "s" else raw_field)
        assert b.pos == len(body)
        entries.append((kind, fields, raw))
    assert prev.hex() == meta["head"]
    return meta, entries


@pytest.mark.parametrize("name", ["honest-secp256k1-w1", "honest-ristretto255-w2",
                                  "honest-E-521-w1"])
def test_formulas_on_an_honest_record(name: str) -> None:
    meta, entries = parse_record(name)
    params = meta["params"]
    g = group(params["group"])
    n, t, w, es, ss = params["n"], params["t"], params["width"], g.element_size, g.scalar_size
    eid = meta["election"]
    identities = [f[1] for k, f, _ in entries if k == "node.enrolled"]

    # §6.1: D and every deal's proof of knowledge
    d = h("dkg-params", lp(params["group"].encode()), lp(eid.encode()), u32(n), u32(t),
          u32(n) + b"".join(lp(i) for i in identities))
    deals = [f[0] for k, f, _ in entries if k == "dkg.deal"]
    assert deals
    for data in deals:
        assert len(data) == 1 + 32 + 4 + t * es + 2 * ss + (n - 1) * (ss + 48)
        assert data[0] == 1 and data[1:33] == d
        i = int.from_bytes(data[33:37], "big")
        cs = data[37:37 + t * es]
        c = int.from_bytes(data[37 + t * es:37 + t * es + ss], "big")
        z = int.from_bytes(data[37 + t * es + ss:37 + t * es + 2 * ss], "big")
        r = g.sub(g.base_mul(z), g.mul(g.decode(cs[:es]), c))
        assert hq(g, "dkg-pok", d, u32(i), cs, g.encode(r)) == c

    # §6.2: every ballot proof
    y = next(f[0] for k, f, _ in entries if k == "dkg.result")
    ballots = [f for k, f, _ in entries if k == "ballot"]
    assert ballots
    fingerprint = next(f[0] for k, f, _ in entries if k == "node.endorse")
    for credential, width, ct, proof, signature in ballots:
        vid = h("voter-id", credential, size=16).hex()  # §6.4
        assert width == w and len(proof) == (w + 1) * ss
        Ed25519PublicKey.from_public_bytes(credential).verify(
            signature, b"mixvote/ballot-signature/v1\0" + lp(fingerprint) + lp(ct) + lp(proof))
        c = int.from_bytes(proof[:ss], "big")
        commitments = b""
        for k in range(w):
            z = int.from_bytes(proof[(k + 1) * ss:(k + 2) * ss], "big")
            alpha = g.decode(ct[k * es:(k + 1) * es])
            commitments += g.encode(g.sub(g.base_mul(z), g.mul(alpha, c)))
        assert hq(g, "ballot-pok", eid.encode(), vid.encode(), y, ct, commitments) == c

    # §6.3: every decryption share, with the three-level context
    final = [f[2] for k, f, _ in entries if k == "mix.result"][-1]
    vkeys = next(f[1] for k, f, _ in entries if k == "dkg.result")
    sid = "mixvote" + "".join(ch for ch in eid if ch.isascii() and ch.isalnum())
    record_context = sid.encode() + hashlib.sha256(final).digest()
    rows = len(final) // (2 * w * es)
    alphas = b"".join(final[m * 2 * w * es:m * 2 * w * es + w * es] for m in range(rows))
    shares = [f[2] for k, f, _ in entries if k == "decrypt.share"]
    assert len(shares) >= t
    for share in shares:
        j, count, width = (int.from_bytes(share[o:o + 4], "big") for o in (0, 4, 8))
        assert (count, width) == (rows, w)
        factors = share[12:12 + count * w * es]
        c = int.from_bytes(share[-2 * ss:-ss], "big")
        z = int.from_bytes(share[-ss:], "big")
        context = lp(b"mixvote/v1/decryption-share") + lp(record_context) + u32(j)
        seed = h("dleq-batch-weights", context, g.encode(g.generator), vkeys[j - 1], alphas,
                 factors)
        rho = [int.from_bytes(h("dleq-batch-weight", seed, u32(k), size=16), "big")
               for k in range(count * w)]
        a = g.sum([g.mul(g.decode(alphas[k * es:(k + 1) * es]), rho[k]) for k in range(len(rho))])
        dd = g.sum([g.mul(g.decode(factors[k * es:(k + 1) * es]), rho[k])
                    for k in range(len(rho))])
        yj = g.decode(vkeys[j - 1])
        a1 = g.sub(g.base_mul(z), g.mul(yj, c))
        a2 = g.sub(g.mul(a, z), g.mul(dd, c))
        assert hq(g, "dleq-batch", lp(context) + lp(seed), g.encode(g.generator), g.encode(yj),
                  g.encode(a), g.encode(dd), g.encode(a1), g.encode(a2)) == c


@pytest.mark.parametrize("name", ["secp256k1", "P-256", "P-384", "brainpoolP256r1"])
def test_embedding_pseudocode(name: str) -> None:
    g = group(name)
    p, a, b = g.field_prime, g.a, g.b  # type: ignore[attr-defined]
    cap = g.element_size - 3
    assert cap == g.embed_capacity
    for m in (b"", b"\x01\x00\x01", bytes(range(1, cap + 1))):
        for counter in range(256):
            x = int.from_bytes(bytes([len(m)]) + m + bytes(cap - len(m)) + bytes([counter]),
                               "big")
            if x < p and pow((x ** 3 + a * x + b) % p, (p - 1) // 2, p) == 1:
                break
        assert g.encode(g.embed(m)) == b"\x02" + x.to_bytes(g.element_size - 1, "big")


def _valid(g: Group, data: bytes) -> bool:
    try:
        g.decode(data)
    except ValueError:
        return False
    return True


@pytest.mark.parametrize("name", ["M-221", "E-521"])
def test_embedding_pseudocode_cofactor_curves(name: str) -> None:
    g = group(name)
    cap = g.element_size - 5
    assert cap == g.embed_capacity
    m = b"\x01\x00\x01"
    for counter in range(1 << 16):
        x = b"\x00" + bytes([len(m)]) + m + bytes(cap - len(m)) + counter.to_bytes(2, "big")
        if _valid(g, b"\x02" + x):  # on the curve, y != 0, order q (the decoder's checks)
            break
    assert g.encode(g.embed(m)) == b"\x02" + x


def test_embedding_pseudocode_ristretto255() -> None:
    g = group("ristretto255")
    for m in (b"", b"\x01\x00\x01", bytes(range(1, 30))):
        for counter in range(128):
            c = bytes([2 * counter, len(m)]) + m + bytes(30 - len(m))
            if c != bytes(32) and _valid(g, c):
                break
        assert g.encode(g.embed(m)) == c


# --- docs/spec-shuffle.md §3 and §7 --------------------------------------------------------------
def leaf(data: bytes) -> bytes:
    return b"\x01" + u32(len(data)) + data


def node(*children: bytes) -> bytes:
    return b"\x00" + u32(len(children)) + b"".join(children)


def rho(eid: str, pgroup: str) -> bytes:
    sid = "mixvote" + "".join(ch for ch in eid if ch.isascii() and ch.isalnum())
    return hashlib.sha256(node(
        leaf(b"3.1.0"), leaf(f"{sid}.default".encode()), leaf(u32(100)), leaf(u32(256)),
        leaf(u32(256)), leaf(b"SHA-256"), leaf(pgroup.encode()), leaf(b"SHA-256"))).digest()


@pytest.mark.parametrize("name, pgroup", [
    ("secp256k1", "ECqPGroup(secp256k1)::" + node(
        leaf(b"com.verificatum.arithm.ECqPGroup"), leaf(b"secp256k1")).hex()),
    ("brainpoolP256r1", "ECqPGroup(brainpoolp256r1)::" + node(
        leaf(b"com.verificatum.arithm.ECqPGroup"), leaf(b"brainpoolp256r1")).hex()),
    ("ristretto255", "mixvote(ristretto255)::" + node(
        leaf(b"mixvote.Group"), leaf(b"ristretto255")).hex()),
    ("E-521", "mixvote(E-521)::" + node(leaf(b"mixvote.Group"), leaf(b"E-521")).hex()),
])
def test_session_prefix_and_generators(name: str, pgroup: str) -> None:
    from crypto.shuffle import ShuffleSession

    session = ShuffleSession(group(name), "mixvoteabc123")
    assert session.pgroup == pgroup
    assert session.rho == rho("abc-123", pgroup)
    if name == "ristretto255":
        # h_i: RFC 9496's one-way map (libsodium's, not mixvote's group code) of 64 bytes of H
        import ctypes

        import pysodium

        for i, h_i in enumerate(session.generators(3)):
            uniform = h("hash-to-group/verificatum-generators", session.rho + u32(i), size=64)
            out = ctypes.create_string_buffer(32)
            pysodium.sodium.crypto_core_ristretto255_from_hash(out, uniform)
            assert group(name).encode(h_i) == out.raw


def test_ristretto_proof_leaves() -> None:
    """A ristretto255 hop's PermutationCommitment is node(N leaves of 32 bytes) (§7)."""
    meta, entries = parse_record("honest-ristretto255-w2")
    fields = next(f for k, f, _ in entries if k == "mix.result")
    names, files = fields[3][0::2], fields[3][1::2]
    assert names == [b"PermutationCommitment", b"PoSCommitment", b"PoSReply"]
    u = files[0]
    count = int.from_bytes(u[1:5], "big")
    ballots = sum(1 for k, _f, _ in entries if k == "ballot")
    assert meta["params"]["width"] == 2 and count == ballots
    assert u[0] == 0 and len(u) == 5 + count * (5 + 32)
    assert all(u[5 + k * 37] == 1 and u[6 + k * 37:10 + k * 37] == u32(32) for k in range(count))
