"""Verificatum Mix-Net 3.1.0 shuffle-proof directories and ``protInfo.xml``, in and out.

Pure: every function takes or returns strings and *file maps* (``dict[str, bytes]``, a path
relative to the directory, with ``/`` separators, mapped to the file's bytes). Reading and writing
real files is the caller's job (``crypto.io.cli`` for ``mixverify``, the election server for
record exports).

The layout and the rules are those of ``shared/verificatum-format.md`` §6 (checked against
Verificatum's own output and against ``vmnv``): the proof directory ``nizkp/<auxsid>/`` holds the
text files ``version``, ``type``, ``auxsid``, ``width`` (no trailing newline), ``FullPublicKey.bt``,
``Ciphertexts.bt``, ``ShuffledCiphertexts.bt`` and ``proofs/`` with ``activethreshold`` and, for
each party NN = 01..λ, ``PermutationCommitmentNN.bt``, ``PoSCommitmentNN.bt``, ``PoSReplyNN.bt`` and
``CiphertextsNN.bt``. Verificatum's verifier is lenient in places (it skips a party whose
``PoSCommitmentNN.bt`` is missing, it does not compare ``ShuffledCiphertexts.bt`` with the last
party's output, it exits 0 when a proof fails); :func:`check_shuffle_directory` is stricter and
fails on each of these. The proof itself is the Terelius–Wikström proof of a shuffle as Verificatum
implements it (D. Wikström, "How to implement a stand-alone verifier for the Verificatum mix-net",
VMN 3.1.0), checked by :func:`crypto.shuffle.verify_shuffle`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from crypto.elgamal import Ciphertext, PublicKey
from crypto.errors import InvalidProof, MalformedInput, MixvoteError
from crypto.executor import Mapper
from crypto.groups.base import Group
from crypto.report import Check, Report
from crypto.shuffle import ShuffleProof, ShuffleSession, decode_proof, verify_shuffle
from crypto.verificatum import bytetree
from crypto.verificatum.codec import (
    codec,
    decode_ciphertext_list,
    decode_public_key,
)
from crypto.verificatum.conventions import (
    group_from_string,
    validate_identifier,
)
from crypto.verificatum.protinfo import (
    PartyInfo,
    ProtInfoFile,
    parse_protinfo,
    render_protinfo,
)

VMN_VERSION = "3.1.0"
SHUFFLE_TYPE = "shuffling"
MAX_PARTIES = 99  # party files are numbered with two digits (01..99)
_DECIMAL_RE = re.compile(r"[1-9][0-9]{0,8}")  # positive, canonical, no sign/space/newline

class _Abort(Exception):
    """A failed check that later checks depend on."""


class _Checks:
    """The checks of one directory, in order; each is shown to ``progress`` as it is made."""

    def __init__(self, progress: Callable[[Check], None] | None) -> None:
        self.items: list[Check] = []
        self.progress = progress

    def _add(self, check: Check) -> None:
        self.items.append(check)
        if self.progress is not None:
            self.progress(check)

    def ok(self, name: str, detail: str = "") -> None:
        self._add(Check(name, True, detail=detail))

    def fail(self, name: str, exc: MixvoteError | str, *, fatal: bool = False) -> None:
        self._add(Check.failed(name, "", exc, None if isinstance(exc, MixvoteError) else
                               MalformedInput))
        if fatal:
            raise _Abort


# --------------------------------------------------------------------------------------------
# Text files, names and layout
# --------------------------------------------------------------------------------------------


def party_suffix(index: int) -> str:
    """``01``..``99``: the number in a party's file names (1-based)."""
    if not 1 <= index <= MAX_PARTIES:
        raise ValueError(f"party index must be in 1..{MAX_PARTIES}, got {index}")
    return f"{index:02d}"


def party_files(index: int) -> dict[str, str]:
    """The proof-file paths of party ``index`` (keys as :func:`crypto.shuffle.encode_proof`)."""
    nn = party_suffix(index)
    return {
        "PermutationCommitment": f"proofs/PermutationCommitment{nn}.bt",
        "PoSCommitment": f"proofs/PoSCommitment{nn}.bt",
        "PoSReply": f"proofs/PoSReply{nn}.bt",
        "Ciphertexts": f"proofs/Ciphertexts{nn}.bt",
    }


def read_text_file(files: Mapping[str, bytes], path: str) -> str:
    """A directory text file read verbatim, as ``vmnv`` does: printable ASCII, no newline,
    no surrounding whitespace (``"shuffling\\n"`` is not ``"shuffling"``)."""
    if path not in files:
        raise MalformedInput(f"{path}: file is missing")
    data = files[path]
    if not data:
        raise MalformedInput(f"{path}: file is empty")
    try:
        text = data.decode("ascii")
    except UnicodeDecodeError:
        raise MalformedInput(f"{path}: not ASCII text") from None
    if not text.isprintable() or text != text.strip():
        raise MalformedInput(
            f"{path}: must be read verbatim, without newline or surrounding whitespace; "
            f"got {text!r}"
        )
    return text


def parse_decimal(text: str, what: str) -> int:
    """A positive canonical decimal integer (no sign, no leading zero, no whitespace)."""
    if not _DECIMAL_RE.fullmatch(text):
        raise MalformedInput(f"{what}: expected a positive decimal integer, got {text!r}")
    return int(text)


def check_session_id(value: str, what: str) -> str:
    """A session identifier as VMN accepts it (:func:`crypto.verificatum.validate_identifier`:
    ``[A-Za-z0-9]+``), at most 256 characters; raises MalformedInput."""

    try:
        validate_identifier(value, what)
    except ValueError as exc:
        raise MalformedInput(str(exc)) from None
    if len(value) > 256:
        raise MalformedInput(f"{what}: longer than 256 characters")
    return value


# --------------------------------------------------------------------------------------------
# Import: read and check a proof directory
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ShuffleDirectory:
    """A parsed shuffle-proof directory: the statement and every party's proof, in chain order.

    ``hops[l]`` is ``(outputs, proof)`` of party ``l + 1``; party 1's input is ``inputs`` and party
    ``l``'s input is party ``l - 1``'s output. Exporting these values again with
    :func:`export_shuffle_directory` gives the same files for a directory that mixvote wrote.
    """

    protinfo: ProtInfoFile
    session: ShuffleSession
    pk: PublicKey
    width: int
    inputs: tuple[Ciphertext, ...]
    hops: tuple[tuple[tuple[Ciphertext, ...], ShuffleProof], ...]


def _known_files(active: int) -> set[str]:
    names = {
        "version",
        "type",
        "auxsid",
        "width",
        "FullPublicKey.bt",
        "Ciphertexts.bt",
        "ShuffledCiphertexts.bt",
        "proofs/activethreshold",
        "proofs/PolynomialInExponent.bt",
    }
    for index in range(1, active + 1):
        names.update(party_files(index).values())
    return names


def _examine(
    files: Mapping[str, bytes],
    protinfo_xml: str,
    *,
    auxsid: str | None,
    width: int | None,
    workers: int,
    mapper: Mapper,
    verify: bool,
    progress: Callable[[Check], None] | None,
) -> tuple[list[Check], ShuffleDirectory | None]:
    """Run the checks in order; return them and, if every structure parsed, the directory."""
    checks = _Checks(progress)
    try:
        info, group = _check_protinfo(checks, protinfo_xml)
        found_auxsid, w, active = _check_text_files(checks, files, info, auxsid, width)
        session, pk, inputs = _check_statement(checks, files, info, group, found_auxsid, w)
        hops = _check_parties(checks, files, session, pk, inputs, w, active,
                              verify=verify, workers=workers, mapper=mapper)
    except _Abort:
        return list(checks.items), None
    if len(hops) != active or any(not c.ok for c in checks.items):
        return list(checks.items), None
    return list(checks.items), ShuffleDirectory(
        protinfo=info, session=session, pk=pk, width=w, inputs=inputs, hops=tuple(hops)
    )


def _check_protinfo(checks: _Checks, protinfo_xml: str) -> tuple[ProtInfoFile, Group]:
    """protInfo.xml: parsed, a known version, key width 1, a valid sid and a known group."""
    try:
        info = parse_protinfo(protinfo_xml)
    except MalformedInput as exc:
        checks.fail("protInfo.xml", exc, fatal=True)
    try:
        if info.version != VMN_VERSION:
            raise MalformedInput(f"<version> is {info.version!r}, only {VMN_VERSION} is known")
        if info.keywidth != 1:
            raise MalformedInput(f"<keywidth> is {info.keywidth}; only key width 1 is supported")
        check_session_id(info.sid, "<sid>")
        group = group_from_string(info.pgroup)
    except (MalformedInput, ValueError) as exc:
        checks.fail("protInfo.xml", MalformedInput(str(exc)), fatal=True)
    checks.ok(
        "protInfo.xml",
        f"sid {info.sid}, group {group.name}, {info.nopart} parties, threshold {info.thres}",
    )
    return info, group


def _check_text(checks: _Checks, name: str, read: Callable[[], str]) -> str:
    """One text file, read and checked by ``read``; a failure ends the run."""
    try:
        value = read()
    except MalformedInput as exc:
        checks.fail(name, exc, fatal=True)
    checks.ok(name, value)
    return value


def _check_text_files(
    checks: _Checks, files: Mapping[str, bytes], info: ProtInfoFile, auxsid: str | None,
    width: int | None,
) -> tuple[str, int, int]:
    """The text files (version, type, auxsid, width, activethreshold), no pre-computation and
    no unexpected files; returns (auxsid, width, active parties)."""

    def version() -> str:
        found = read_text_file(files, "version")
        if found != info.version:
            raise MalformedInput(f"version: {found!r} differs from protInfo's {info.version!r}")
        return found

    def kind() -> str:
        found = read_text_file(files, "type")
        if found != SHUFFLE_TYPE:
            raise MalformedInput(f"type: {found!r}, expected {SHUFFLE_TYPE!r}")
        return found

    def aux() -> str:
        found = check_session_id(read_text_file(files, "auxsid"), "auxsid")
        if auxsid is not None and found != auxsid:
            raise MalformedInput(f"auxsid: {found!r} differs from the expected {auxsid!r}")
        return found

    def wide() -> str:
        found = parse_decimal(read_text_file(files, "width"), "width")
        expected = info.width if width is None else width
        if found != expected:
            origin = "protInfo's <width>" if width is None else "the expected width"
            raise MalformedInput(f"width: {found} differs from {origin} {expected}")
        return str(found)

    def threshold() -> str:
        found = parse_decimal(read_text_file(files, "proofs/activethreshold"), "activethreshold")
        if not info.thres <= found <= info.nopart or found > MAX_PARTIES:
            raise MalformedInput(
                f"proofs/activethreshold: {found} not in thres..nopart = "
                f"{info.thres}..{info.nopart}"
            )
        return str(found)

    _check_text(checks, "version", version)
    _check_text(checks, "type", kind)
    found_auxsid = _check_text(checks, "auxsid", aux)
    w = int(_check_text(checks, "width", wide))
    try:
        active = int(threshold())
    except MalformedInput as exc:
        checks.fail("proofs/activethreshold", exc, fatal=True)
    checks.ok("proofs/activethreshold", f"{active} shuffling parties")
    if "proofs/maxciph" in files:
        checks.fail(
            "no pre-computation",
            "proofs/maxciph is present: pre-computation proofs are not supported",
            fatal=True,
        )
    checks.ok("no pre-computation", "proofs/maxciph absent")
    unexpected = sorted(set(files) - _known_files(active))
    if unexpected:
        checks.fail("no unexpected files", f"not part of the proven chain: {', '.join(unexpected)}")
    else:
        checks.ok("no unexpected files")
    return found_auxsid, w, active


def _check_statement(
    checks: _Checks, files: Mapping[str, bytes], info: ProtInfoFile, group: Group, auxsid: str,
    w: int,
) -> tuple[ShuffleSession, PublicKey, tuple[Ciphertext, ...]]:
    """The session parameters (ρ), the public key, the key-generation polynomial if present,
    and the input list."""
    try:
        session = ShuffleSession(
            group,
            info.sid,
            auxsid=auxsid,
            version=info.version,
            statdist=info.statdist,
            vbitlenro=info.vbitlenro,
            ebitlenro=info.ebitlenro,
            prg=info.prg,
            rohash=info.rohash,
        )
        if session.pgroup != info.pgroup:
            # ρ hashes the whole pgroup string; mixvote derives it from the group.
            raise MalformedInput(
                f"<pgroup> is not the canonical string of {group.name} ({session.pgroup!r})"
            )
    except (MixvoteError, ValueError) as exc:
        checks.fail("session parameters", MalformedInput(str(exc)), fatal=True)
    checks.ok("session parameters", f"der.rho {session.rho.hex()}")
    try:
        pk = decode_public_key(group, _file(files, "FullPublicKey.bt"))
    except MixvoteError as exc:
        checks.fail("FullPublicKey.bt", exc, fatal=True)
    checks.ok("FullPublicKey.bt", "node(g, y) with the standard generator g")
    if "proofs/PolynomialInExponent.bt" in files:
        try:
            _check_polynomial(group, files["proofs/PolynomialInExponent.bt"], info.thres, pk)
        except MixvoteError as exc:
            checks.fail("proofs/PolynomialInExponent.bt", exc)
        else:
            checks.ok("proofs/PolynomialInExponent.bt", "its constant term is the public key")
    try:
        inputs = tuple(decode_ciphertext_list(group, _file(files, "Ciphertexts.bt"), w))
        if not inputs:
            raise MalformedInput("Ciphertexts.bt: the input list is empty")
    except MixvoteError as exc:
        checks.fail("Ciphertexts.bt", exc, fatal=True)
    checks.ok("Ciphertexts.bt", f"{len(inputs)} ciphertexts of width {w}")
    return session, pk, inputs


def _check_parties(
    checks: _Checks, files: Mapping[str, bytes], session: ShuffleSession, pk: PublicKey,
    inputs: tuple[Ciphertext, ...], w: int, active: int, *, verify: bool, workers: int,
    mapper: Mapper,
) -> list[tuple[tuple[Ciphertext, ...], ShuffleProof]]:
    """Each party in chain order (files, output list, proof of shuffle against its input), then
    the published final list; returns the parties' (outputs, proof) that parsed."""
    group, n = session.group, len(inputs)
    hops: list[tuple[tuple[Ciphertext, ...], ShuffleProof]] = []
    current: tuple[Ciphertext, ...] | None = inputs
    last_output_bytes: bytes | None = files["Ciphertexts.bt"]
    for index in range(1, active + 1):
        label = f"party {party_suffix(index)}"
        paths = party_files(index)
        if index == active and paths["Ciphertexts"] not in files:
            out_path = "ShuffledCiphertexts.bt"  # vmnv's fallback for the last party
        else:
            out_path = paths["Ciphertexts"]
        missing = [p for key, p in paths.items() if key != "Ciphertexts" and p not in files] + (
            [out_path] if out_path not in files else []
        )
        if missing:
            checks.fail(f"{label} files", f"missing: {', '.join(missing)}")
            current, last_output_bytes = None, None
            continue
        checks.ok(f"{label} files")
        try:
            outputs = tuple(decode_ciphertext_list(group, files[out_path], w))
            if len(outputs) != n:
                raise MalformedInput(f"{out_path}: {len(outputs)} ciphertexts, expected {n}")
        except MixvoteError as exc:
            checks.fail(f"{label} output {out_path}", exc)
            current, last_output_bytes = None, None
            continue
        last_output_bytes = files[out_path]
        try:
            proof = decode_proof(
                session, {k: files[p] for k, p in paths.items() if k != "Ciphertexts"}, n, w
            )
        except MixvoteError as exc:
            checks.fail(f"{label} proof of shuffle", exc)
            current = outputs
            continue
        hops.append((outputs, proof))
        if current is None:
            checks.fail(f"{label} proof of shuffle", "not checked: the party's input is unusable")
        elif verify:
            try:
                verify_shuffle(session, pk, list(current), list(outputs), proof,
                               workers=workers, mapper=mapper)
            except MixvoteError as exc:
                checks.fail(f"{label} proof of shuffle", exc)
            else:
                checks.ok(f"{label} proof of shuffle", f"{n} ciphertexts")
        current = outputs
    if "ShuffledCiphertexts.bt" not in files:
        checks.fail("ShuffledCiphertexts.bt", "file is missing")
    elif last_output_bytes is None:
        checks.fail("ShuffledCiphertexts.bt", "the last party's output is unusable")
    elif files["ShuffledCiphertexts.bt"] != last_output_bytes:
        checks.fail(
            "ShuffledCiphertexts.bt",
            InvalidProof(
                "ShuffledCiphertexts.bt differs from the output of the last party "
                f"({party_suffix(active)})"
            ),
        )
    else:
        checks.ok("ShuffledCiphertexts.bt", "equals the last proven output")
    return hops


def _file(files: Mapping[str, bytes], path: str) -> bytes:
    try:
        return files[path]
    except KeyError:
        raise MalformedInput(f"{path}: file is missing") from None


def check_shuffle_directory(
    files: Mapping[str, bytes],
    protinfo_xml: str,
    *,
    auxsid: str | None = None,
    width: int | None = None,
    workers: int = 1,
    mapper: Mapper = map,
    progress: Callable[[Check], None] | None = None,
) -> Report:
    """Check a Verificatum shuffle-proof directory (``nizkp/<auxsid>/`` as a file map).

    ``auxsid`` and ``width``, if given, are what the caller expects (``vmnv -auxsid``/``-width``);
    otherwise the directory's auxsid is taken as found and the width must equal protInfo's.
    Stricter than ``vmnv``: a missing proof file of an active party, a ``ShuffledCiphertexts.bt``
    that is not the last party's output, a text file with a newline, ``proofs/maxciph``, or files
    of parties beyond ``proofs/activethreshold`` all fail. ``progress`` sees each check as it is
    made. The report lists every check; see :meth:`crypto.report.Report.raise_for_failure`.
    """
    items, _ = _examine(files, protinfo_xml, auxsid=auxsid, width=width, workers=workers,
                        mapper=mapper, verify=True, progress=progress)
    return Report(tuple(items), subject="proof directory")


def verify_shuffle_directory(
    files: Mapping[str, bytes], protinfo_xml: str, *, auxsid: str | None = None,
    width: int | None = None, workers: int = 1, mapper: Mapper = map,
) -> None:
    """Return None if :func:`check_shuffle_directory` passes every check, else raise the first
    failure (InvalidProof / InvalidElement / MalformedInput) naming the file or party."""
    check_shuffle_directory(
        files, protinfo_xml, auxsid=auxsid, width=width, workers=workers, mapper=mapper
    ).raise_for_failure()


def read_shuffle_directory(
    files: Mapping[str, bytes],
    protinfo_xml: str,
    *,
    auxsid: str | None = None,
    width: int | None = None,
) -> ShuffleDirectory:
    """Parse a proof directory into its statement and proofs **without verifying the proofs**.

    Every structural check of :func:`check_shuffle_directory` is made; the first failure raises.
    """
    items, parsed = _examine(
        files, protinfo_xml, auxsid=auxsid, width=width, workers=1, mapper=map, verify=False,
        progress=None,
    )
    Report(tuple(items), subject="proof directory").raise_for_failure()
    if parsed is None:
        raise MalformedInput("proof directory: incomplete")
    return parsed


def _check_polynomial(group: Group, data: bytes, thres: int, pk: PublicKey) -> None:
    """``proofs/PolynomialInExponent.bt`` (key-generation data, not needed by the shuffle): it
    must be ``thres`` valid points whose constant term is the joint public key ``y``."""

    what = "proofs/PolynomialInExponent.bt"
    points = codec(group).decode_array(bytetree.decode(data, what), what)
    if len(points) != thres:
        raise MalformedInput(
            f"proofs/PolynomialInExponent.bt: {len(points)} coefficients, expected thres = {thres}"
        )
    if points[0] != pk.y:
        raise InvalidProof(
            "proofs/PolynomialInExponent.bt: the constant term is not the public key of "
            "FullPublicKey.bt"
        )


__all__ = [
    "Check",
    "PartyInfo",
    "ProtInfoFile",
    "Report",
    "ShuffleDirectory",
    "check_shuffle_directory",
    "parse_protinfo",
    "party_files",
    "read_shuffle_directory",
    "render_protinfo",
    "verify_shuffle_directory",
]
