"""Interoperability with the Verificatum Mix-Net 3.1.0: real proofs made by Verificatum itself.

Provenance: ``shared/vectors/verificatum/README.md`` (three sets made by VMN 3.1.0, vcr 97974cf,
vmn 9d9c45e, on 2026-11-21, and accepted by ``vmnv``); known answers from that README and from
``shared/verificatum-format.md`` §2–§4. The vectors live beside the repository (``../shared``) or
under ``$MIXVOTE_SHARED``; a missing directory is a failure, never a skip.
"""

from __future__ import annotations

import dataclasses

import pytest

from crypto import verificatum
from crypto.errors import InvalidElement, InvalidProof, MalformedInput
from crypto.groups import group
from crypto.shuffle import (
    PROOF_FILES,
    ShuffleSession,
    decode_proof,
    encode_proof,
    verify_shuffle,
    verify_shuffle_per_equation,
)
from crypto.verificatum import bytetree
from tests.vectors.shared import vectors_dir

# set -> (auxsid, width, der.rho, h_0 x, h_0 y), from the vectors README (printed by vmnv -t)
SETS = {
    "secp256k1-n10-w1": (
        "default",
        1,
        "7994615b3dce1a975681a1907dfe07bed79cad9978f2d94968a150c236479fd1",
        "8a5b704e6f2443b8aceb6cffea3e5f6fab51667d44a0f387e3e7e417a37d2c75",
        "62b42d6de4d79de4cc5061e4461e0bcda913e48144d393934abe02828a5c4fde",
    ),
    "secp256k1-n12-w2": (
        "shufw2",
        2,
        "7685a06a8e79ad11709af30ce651c8cd37ab7e68cff7a6afbca09635815c9313",
        "13ef226a6b1ba073da01c697b3b3d396dd23b1973b78d9aa4e3d64a1d4421099",
        "0f36d2875d20da65d7867eb8b0258c49f28ac26d4e1b8c994fd799891b94d308",
    ),
    "p256-n10-w1": (
        "p256test",
        1,
        "033370f9b3e46e404fa49dbb5488460d17ed382d6831c554b7e5810b51c7c9eb",
        "27d6e4c1c2c353088031f8c17d270365ee11beac5717bc4c30d604bcb9881419",
        "44c9166b0c0976651db632a13a0dbba07f329c848473f8380a0eb374a7820a70",
    ),
}


class VmnSet:
    """One vector set: its protInfo, session, key and files."""

    def __init__(self, name: str) -> None:
        self.root = vectors_dir() / name
        self.info = verificatum.parse_protinfo((self.root / "protInfo.xml").read_text("utf-8"))
        self.auxsid = SETS[name][0]
        self.dir = self.root / "nizkp" / self.auxsid
        if not self.dir.is_dir():
            pytest.fail(f"vector set {name} is incomplete: {self.dir} is missing")
        self.group = verificatum.group_from_string(self.info.pgroup)
        assert self.read("auxsid") == self.auxsid.encode()
        assert self.read("version") == self.info.version.encode()
        assert self.read("type") == b"shuffling"
        self.width = int(self.read("width"))
        self.session = ShuffleSession(
            self.group,
            self.info.sid,
            self.auxsid,
            version=self.info.version,
            statdist=self.info.statdist,
            vbitlenro=self.info.vbitlenro,
            ebitlenro=self.info.ebitlenro,
            prg=self.info.prg,
            rohash=self.info.rohash,
        )
        self.pk = verificatum.decode_public_key(self.group, self.read("FullPublicKey.bt"))
        self.parties = int(self.read("proofs/activethreshold"))

    def read(self, rel: str) -> bytes:
        return (self.dir / rel).read_bytes()

    def proof_files(self, party: int) -> dict[str, bytes]:
        return {k: self.read(f"proofs/{k}{party:02d}.bt") for k in PROOF_FILES}

    def input_bytes(self, party: int) -> bytes:
        return self.read(
            "Ciphertexts.bt" if party == 1 else f"proofs/Ciphertexts{party - 1:02d}.bt"
        )

    def output_bytes(self, party: int) -> bytes:
        return self.read(f"proofs/Ciphertexts{party:02d}.bt")


@pytest.fixture(scope="module", params=sorted(SETS))
def vmn(request: pytest.FixtureRequest) -> VmnSet:
    return VmnSet(request.param)


# --- known answers of the building blocks -------------------------------------------------------
def test_prg_check_value() -> None:
    assert verificatum.PRG(bytes(32)).read(40).hex() == (
        "6db65fd59fd356f6729140571b5bcd6bb3b83492a16e1bf0a3884442fc3c8a0e2158a8906d5e2c2b"
    )
    # bytes are consumed sequentially across calls
    prg = verificatum.PRG(bytes(32))
    assert prg.read(7) + prg.read(33) == verificatum.PRG(bytes(32)).read(40)


def test_group_strings() -> None:
    assert verificatum.group_string(group("secp256k1")) == (
        "ECqPGroup(secp256k1)::00000000020100000020636f6d2e766572696669636174756d2e61726974686d2e"
        "4543715047726f75700100000009736563703235366b31"
    )
    assert verificatum.group_string(group("P-256")) == (
        "ECqPGroup(P-256)::00000000020100000020636f6d2e766572696669636174756d2e61726974686d2e"
        "4543715047726f75700100000005502d323536"
    )


def test_rho_pydemo_and_generators_secp256k1() -> None:
    session = ShuffleSession(group("secp256k1"), "PyDemo")
    assert session.rho.hex() == "71830a0250cc378085ce645e72d3029e72abaaac44cd94f611212b94c35fbbe5"
    seed = verificatum.random_oracle([session.rho, bytetree.leaf_bytes(b"generators")], 256)
    assert seed.hex() == "eb05ed938bc402ab4ba9156ae34af8557a17209a69e2df40077e02ef8df820a8"
    h = session.generators(2)
    affine = [group("secp256k1").to_affine(x) for x in h]  # type: ignore[attr-defined]
    assert affine[0] == (
        0x2F97959589EF43479E5387019B8ADF713CEC41F39350A0056B7E75E08C3C370E,
        0x7D9AF72DF7D8446BB8DA9F87A80CF6F5D7374ED2999C77E25793849CA2F87F44,
    )
    assert hex(affine[1][0]).startswith("0x8546f3f3") and hex(affine[1][0]).endswith("8ef9")
    assert hex(affine[1][1]).startswith("0x548df0e2") and hex(affine[1][1]).endswith("7791")


def test_rho_mydemo_p256_and_generator() -> None:
    session = ShuffleSession(group("P-256"), "MyDemo", "shuf")
    assert session.rho.hex() == "4a060b5ed9bf084edcf0f4929ef730054d6897873f191b78d2b649c60ce4e2a5"
    seed = verificatum.random_oracle([session.rho, bytetree.leaf_bytes(b"generators")], 256)
    assert seed.hex() == "369fe14cb197ea5109aa2f44c58b36145709a8740181e80ffdaa53dd97982239"
    h0 = group("P-256").to_affine(session.generators(1)[0])  # type: ignore[attr-defined]
    assert h0 == (
        0x0A1B2CE99FE5E29F429797FF09F09E488E8384AAD97915E466BEC3BF1BDCF019,
        0x4C546CE1F5A13CDD077C0D192E3C2D02A99D29DF04809110410029278B99A586,
    )


def test_generators_are_a_prefix_stream() -> None:
    session = ShuffleSession(group("secp256k1"), "PyDemo")
    assert session.generators(5)[:3] == session.generators(3)


# --- the three Verificatum sets -------------------------------------------------------------------
def test_rho_and_h0(vmn: VmnSet) -> None:
    _, _, rho, hx, hy = SETS[vmn.root.name]
    assert vmn.session.rho.hex() == rho
    # Also from the raw protInfo string (ρ hashes the whole pgroup string, prefix included).
    assert vmn.session.pgroup == vmn.info.pgroup
    h0 = vmn.group.to_affine(vmn.session.generators(1)[0])  # type: ignore[attr-defined]
    assert h0 == (int(hx, 16), int(hy, 16))


def test_every_file_round_trips_byte_for_byte(vmn: VmnSet) -> None:
    n = len(verificatum.decode_ciphertext_list(vmn.group, vmn.read("Ciphertexts.bt"), vmn.width))
    assert verificatum.encode_public_key(vmn.pk) == vmn.read("FullPublicKey.bt")
    for party in range(1, vmn.parties + 1):
        data = vmn.output_bytes(party)
        cts = verificatum.decode_ciphertext_list(vmn.group, data, vmn.width)
        assert verificatum.encode_ciphertext_list(vmn.group, cts) == data
        files = vmn.proof_files(party)
        assert encode_proof(vmn.session, decode_proof(vmn.session, files, n, vmn.width)) == files


def test_verify_chain_of_three_shuffles(vmn: VmnSet) -> None:
    assert vmn.parties == 3
    current = verificatum.decode_ciphertext_list(vmn.group, vmn.input_bytes(1), vmn.width)
    n = len(current)
    for party in range(1, vmn.parties + 1):
        outputs = verificatum.decode_ciphertext_list(vmn.group, vmn.output_bytes(party), vmn.width)
        proof = decode_proof(vmn.session, vmn.proof_files(party), n, vmn.width)
        verify_shuffle(vmn.session, vmn.pk, current, outputs, proof)
        current = outputs
    final = vmn.read("ShuffledCiphertexts.bt")
    assert final == vmn.output_bytes(vmn.parties)
    assert verificatum.encode_ciphertext_list(vmn.group, current) == final


def test_both_verifiers_and_both_backends_agree_on_the_chain(vmn: VmnSet) -> None:
    """The batch verifier (native and reference groups) and the per-equation reference accept
    every hop, and reject each hop's proof replayed against the next hop's lists alike."""
    for backend in ("native", "reference"):
        g = group(vmn.group.name, backend=backend)
        session = dataclasses.replace(vmn.session, group=g)
        pk = verificatum.decode_public_key(g, vmn.read("FullPublicKey.bt"))
        lists = [verificatum.decode_ciphertext_list(g, vmn.input_bytes(1), vmn.width)]
        for party in range(1, vmn.parties + 1):
            lists.append(
                verificatum.decode_ciphertext_list(g, vmn.output_bytes(party), vmn.width)
            )
        n = len(lists[0])
        for party in range(1, vmn.parties + 1):
            proof = decode_proof(session, vmn.proof_files(party), n, vmn.width)
            ins, outs = lists[party - 1], lists[party]
            verify_shuffle(session, pk, ins, outs, proof)
            verify_shuffle_per_equation(session, pk, ins, outs, proof)
            if party < vmn.parties:
                errors = []
                for check in (verify_shuffle, verify_shuffle_per_equation):
                    with pytest.raises(InvalidProof) as info:
                        check(session, pk, outs, lists[party + 1], proof)
                    errors.append(str(info.value))
                assert errors[0] == errors[1]


def test_proof_checked_against_wrong_input_list_fails(vmn: VmnSet) -> None:
    # Party 2's proof against party 1's input list: the statement differs, so must the verdict.
    inputs = verificatum.decode_ciphertext_list(vmn.group, vmn.input_bytes(1), vmn.width)
    outputs = verificatum.decode_ciphertext_list(vmn.group, vmn.output_bytes(2), vmn.width)
    proof = decode_proof(vmn.session, vmn.proof_files(2), len(inputs), vmn.width)
    with pytest.raises(InvalidProof, match=r"equation \(\d\)"):
        verify_shuffle(vmn.session, vmn.pk, inputs, outputs, proof)


def test_proof_under_other_auxsid_fails(vmn: VmnSet) -> None:
    other = ShuffleSession(vmn.group, vmn.info.sid, "other" + vmn.auxsid)
    inputs = verificatum.decode_ciphertext_list(vmn.group, vmn.input_bytes(1), vmn.width)
    outputs = verificatum.decode_ciphertext_list(vmn.group, vmn.output_bytes(1), vmn.width)
    proof = decode_proof(other, vmn.proof_files(1), len(inputs), vmn.width)
    with pytest.raises(InvalidProof):
        verify_shuffle(other, vmn.pk, inputs, outputs, proof)


def test_tampered_vmn_reply(vmn: VmnSet) -> None:
    inputs = verificatum.decode_ciphertext_list(vmn.group, vmn.input_bytes(1), vmn.width)
    outputs = verificatum.decode_ciphertext_list(vmn.group, vmn.output_bytes(1), vmn.width)
    files = vmn.proof_files(1)
    reply = bytearray(files["PoSReply"])
    # k_A is the first leaf: header 5 (node) + 5 (leaf); its last byte flipped stays canonical
    reply[5 + 5 + vmn.session.group.order.bit_length() // 8] ^= 1
    proof = decode_proof(vmn.session, {**files, "PoSReply": bytes(reply)}, len(inputs), vmn.width)
    with pytest.raises(InvalidProof, match=r"equation \(1\)"):
        verify_shuffle(vmn.session, vmn.pk, inputs, outputs, proof)
    # VMN's own test: a 0xFF byte in k_A (here its sign byte) makes the scalar non-canonical
    reply = bytearray(files["PoSReply"])
    reply[10] = 0xFF
    with pytest.raises(MalformedInput, match="k_A"):
        decode_proof(vmn.session, {**files, "PoSReply": bytes(reply)}, len(inputs), vmn.width)


def test_corrupted_b0_coordinate_is_rejected(vmn: VmnSet) -> None:
    # vmnv 3.1.0 crashes on this one (NullPointerException); we reject it with a reason.
    files = vmn.proof_files(1)
    com = bytearray(files["PoSCommitment"])
    com[5 + 5 + 5 + 5 + 10] ^= 0x55  # inside X of B_0
    n = len(verificatum.decode_ciphertext_list(vmn.group, vmn.input_bytes(1), vmn.width))
    with pytest.raises(InvalidElement, match=r"B\[0\]"):
        decode_proof(vmn.session, {**files, "PoSCommitment": bytes(com)}, n, vmn.width)


def test_protinfo_rejects_entities_and_missing_fields() -> None:
    text = (vectors_dir() / "secp256k1-n10-w1" / "protInfo.xml").read_text("utf-8")
    with pytest.raises(MalformedInput, match="DOCTYPE"):
        verificatum.parse_protinfo('<!DOCTYPE x [<!ENTITY a "b">]>' + text)
    with pytest.raises(MalformedInput, match="rohash"):
        verificatum.parse_protinfo(text.replace("<rohash>SHA-256</rohash>", ""))
    with pytest.raises(MalformedInput, match="statdist"):
        verificatum.parse_protinfo(text.replace("<statdist>100<", "<statdist>-1<"))
    with pytest.raises(MalformedInput, match="nopart"):
        verificatum.parse_protinfo(text.replace("<nopart>3<", "<nopart>2<"))
    with pytest.raises(MalformedInput, match="XML"):
        verificatum.parse_protinfo(text[:-20])


def test_vector_files_are_the_documented_ones() -> None:
    # Guards against a silently modified vector directory: the total size of each proof
    # directory equals the "Proof size" vmnv printed for it (vectors README).
    sizes = {"secp256k1-n10-w1": 19974, "secp256k1-n12-w2": 33972, "p256-n10-w1": 19975}
    for name, expected in sizes.items():
        d = vectors_dir() / name / "nizkp" / SETS[name][0]
        total = sum(p.stat().st_size for p in d.rglob("*") if p.is_file())
        assert total == expected, name
