"""A mixvote cascade written as a Verificatum Mix-Net 3.1.0 shuffle-proof directory.

Pure: returns file maps (``dict[str, bytes]``, ``/``-separated paths relative to the export's
``verificatum/`` directory), in the layout of ``shared/verificatum-format.md`` §6, so that
Verificatum's own ``vmnv -shuffle`` can check mixvote's proofs. Reading such a directory back is
:mod:`crypto.verificatum.directory`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from crypto.elgamal import Ciphertext, PublicKey
from crypto.errors import MalformedInput
from crypto.shuffle import ShuffleProof, ShuffleSession, encode_proof
from crypto.verificatum.codec import encode_ciphertext_list, encode_public_key
from crypto.verificatum.conventions import group_string, verificatum_name
from crypto.verificatum.directory import (
    MAX_PARTIES,
    SHUFFLE_TYPE,
    VMN_VERSION,
    ShuffleDirectory,
    check_session_id,
    party_files,
    party_suffix,
)
from crypto.verificatum.protinfo import (
    DEFAULT_BULLBOARD,
    PartyInfo,
    ProtInfoFile,
    parse_protinfo,
    render_protinfo,
)


def _party_info(index: int, party: str | PartyInfo) -> PartyInfo:
    if isinstance(party, PartyInfo):
        return party
    if not isinstance(party, str) or not party or party != party.strip():
        raise ValueError(f"party_names[{index - 1}] must be a non-empty string without padding")
    # http/hint are required by vmnv's schema and never used by it; these are placeholders in the
    # same form as vmni writes for a local demo.
    return PartyInfo(
        name=party, http=f"http://localhost:{8040 + index}", hint=f"localhost:{4040 + index}"
    )


def export_shuffle_directory(
    session: ShuffleSession,
    pk: PublicKey,
    inputs: Sequence[Ciphertext],
    hops: Sequence[tuple[Sequence[Ciphertext], ShuffleProof]],
    party_names: Sequence[str | PartyInfo] | None = None,
    *,
    name: str = "mixvote",
    descr: str = "",
) -> dict[str, bytes]:
    """The Verificatum files of a proven cascade: ``protInfo.xml`` and ``nizkp/<auxsid>/...``.

    ``hops`` are the **accepted** hops in cascade order, each ``(outputs, proof)`` with the proof
    made by :func:`crypto.shuffle.prove_shuffle` under ``session`` (skipped or rejected hops are not
    parties of the proven chain and must not be passed). Party ``l`` becomes Verificatum's party
    ``l``: nopart = thres = ``proofs/activethreshold`` = ``len(hops)``. Paths are relative to the
    export's ``verificatum/`` directory; text files have no trailing newline and no
    ``proofs/maxciph`` is written, so ``vmnv -shuffle -auxsid <auxsid> protInfo.xml
    nizkp/<auxsid>`` verifies it (``verificatum-format.md`` §6). Raises ValueError on misuse.
    """

    group = session.group
    if not verificatum_name(group):
        raise ValueError(
            f"export_shuffle_directory: Verificatum does not know the group {group.name}; "
            "export is for its curves (secp256k1, P-256, P-384, P-521, brainpool)"
        )
    if pk.group is not group and pk.group.name != group.name:
        raise ValueError("export_shuffle_directory: pk is not in the session's group")
    if session.version != VMN_VERSION:
        raise ValueError(f"export_shuffle_directory: session version must be {VMN_VERSION}")
    auxsid = session.auxsid
    try:
        check_session_id(session.sid, "session sid")
        check_session_id(auxsid, "session auxsid")
    except MalformedInput as exc:
        raise ValueError(f"export_shuffle_directory: {exc}") from None
    if not inputs:
        raise ValueError("export_shuffle_directory: inputs must not be empty")
    if not hops:
        raise ValueError("export_shuffle_directory: at least one accepted hop is needed")
    if len(hops) > MAX_PARTIES:
        raise ValueError(f"export_shuffle_directory: at most {MAX_PARTIES} hops")
    width = inputs[0].width
    n = len(inputs)
    for i, (outputs, _proof) in enumerate(hops):
        if len(outputs) != n:
            raise ValueError(
                f"export_shuffle_directory: hop {i + 1} has {len(outputs)} outputs, expected {n}"
            )
    if any(ct.width != width for ct in inputs) or any(
        ct.width != width for outputs, _ in hops for ct in outputs
    ):
        raise ValueError("export_shuffle_directory: all ciphertexts must have one width")
    if party_names is None:
        party_names = [f"Party{party_suffix(i)}" for i in range(1, len(hops) + 1)]
    if len(party_names) != len(hops):
        raise ValueError(
            f"export_shuffle_directory: {len(party_names)} party names for {len(hops)} hops"
        )
    parties = tuple(_party_info(i, p) for i, p in enumerate(party_names, start=1))
    active = len(hops)
    info = ProtInfoFile(
        version=VMN_VERSION,
        sid=session.sid,
        name=name,
        descr=descr,
        nopart=active,
        statdist=session.statdist,
        bullboard=DEFAULT_BULLBOARD,
        thres=active,
        pgroup=group_string(group),
        keywidth=1,
        vbitlen=128,
        vbitlenro=session.vbitlenro,
        ebitlen=128,
        ebitlenro=session.ebitlenro,
        prg=session.prg,
        rohash=session.rohash,
        corr="noninteractive",
        width=width,
        maxciph=0,
        parties=parties,
    )
    text = render_protinfo(info)
    if parse_protinfo(text) != info:
        raise ValueError(
            "export_shuffle_directory: name, descr or a party field does not survive "
            "protInfo.xml (whitespace around a value?)"
        )
    base = f"nizkp/{auxsid}/"
    out: dict[str, bytes] = {"protInfo.xml": text.encode("utf-8")}
    out[base + "version"] = VMN_VERSION.encode()
    out[base + "type"] = SHUFFLE_TYPE.encode()
    out[base + "auxsid"] = auxsid.encode()
    out[base + "width"] = str(width).encode()
    out[base + "FullPublicKey.bt"] = encode_public_key(pk)
    out[base + "Ciphertexts.bt"] = encode_ciphertext_list(group, list(inputs))
    out[base + "proofs/activethreshold"] = str(active).encode()
    last = b""
    for index, (outputs, proof) in enumerate(hops, start=1):
        paths = party_files(index)
        encoded = encode_proof(session, proof)
        for key in ("PermutationCommitment", "PoSCommitment", "PoSReply"):
            out[base + paths[key]] = encoded[key]
        last = encode_ciphertext_list(group, list(outputs))
        out[base + paths["Ciphertexts"]] = last
    out[base + "ShuffledCiphertexts.bt"] = last
    return out


def split_export(
    export: Mapping[str, bytes], auxsid: str | None = None
) -> tuple[str, dict[str, bytes]]:
    """``(protInfo.xml text, proof-directory file map)`` of an export made by
    :func:`export_shuffle_directory` (or a set laid out as ``protInfo.xml`` + ``nizkp/<auxsid>/``).
    ``auxsid`` picks the directory when there are several."""
    if "protInfo.xml" not in export:
        raise MalformedInput("export: protInfo.xml is missing")
    dirs = sorted({p.split("/")[1] for p in export if p.startswith("nizkp/") and p.count("/") >= 2})
    if auxsid is None:
        if len(dirs) != 1:
            raise MalformedInput(f"export: expected one nizkp/<auxsid>/ directory, found {dirs}")
        auxsid = dirs[0]
    elif auxsid not in dirs:
        raise MalformedInput(f"export: no directory nizkp/{auxsid}/")
    prefix = f"nizkp/{auxsid}/"
    try:
        text = export["protInfo.xml"].decode("utf-8")
    except UnicodeDecodeError:
        raise MalformedInput("protInfo.xml: not UTF-8") from None
    return text, {p[len(prefix) :]: data for p, data in export.items() if p.startswith(prefix)}


def export_directory(directory: ShuffleDirectory, *, name: str | None = None) -> dict[str, bytes]:
    """Export a parsed directory again (``read_shuffle_directory`` → files)."""
    info = directory.protinfo
    return export_shuffle_directory(
        directory.session,
        directory.pk,
        directory.inputs,
        directory.hops,
        info.parties,
        name=info.name if name is None else name,
        descr=info.descr,
    )
