"""Verificatum's ``protInfo.xml`` (``verificatum-format.md`` §6.2): the one parser and writer.

Takes and returns text (no I/O here).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from xml.sax.saxutils import escape

from crypto.errors import MalformedInput

_DECIMAL_RE = re.compile(r"[1-9][0-9]{0,8}")  # positive, canonical, no sign/space/newline

#: The elements of ``<protocol>`` in the order Verificatum's schema fixes (§6.2); all required.
PROTOCOL_FIELDS: tuple[str, ...] = (
    "version",
    "sid",
    "name",
    "descr",
    "nopart",
    "statdist",
    "bullboard",
    "thres",
    "pgroup",
    "keywidth",
    "vbitlen",
    "vbitlenro",
    "ebitlen",
    "ebitlenro",
    "prg",
    "rohash",
    "corr",
    "width",
    "maxciph",
)
#: The elements of each ``<party>``, in schema order.
PARTY_FIELDS: tuple[str, ...] = ("name", "srtbyrole", "descr", "pkey", "http", "hint")
_INT_FIELDS = frozenset(
    {
        "nopart",
        "statdist",
        "thres",
        "keywidth",
        "vbitlen",
        "vbitlenro",
        "ebitlen",
        "ebitlenro",
        "width",
        "maxciph",
    }
)
DEFAULT_BULLBOARD = "com.verificatum.protocol.com.BullBoardBasicHTTPW"


@dataclass(frozen=True)
class PartyInfo:
    """One ``<party>`` of protInfo.xml. Only the count of parties matters to ``vmnv -shuffle``;
    ``pkey``, ``http`` and ``hint`` are required by the schema but unused by the verifier."""

    name: str
    srtbyrole: str = "anyrole"
    descr: str = ""
    pkey: str = "none"
    http: str = "http://localhost:8041"
    hint: str = "localhost:4041"


@dataclass(frozen=True)
class ProtInfoFile:
    """All of a Verificatum ``protInfo.xml`` (§6.2), for reading *and* writing it."""

    version: str
    sid: str
    name: str
    descr: str
    nopart: int
    statdist: int
    bullboard: str
    thres: int
    pgroup: str
    keywidth: int
    vbitlen: int
    vbitlenro: int
    ebitlen: int
    ebitlenro: int
    prg: str
    rohash: str
    corr: str
    width: int
    maxciph: int
    parties: tuple[PartyInfo, ...] = field(default=())


def _children(elem: ET.Element, expected: Sequence[str], where: str) -> dict[str, str]:
    values: dict[str, str] = {}
    tags = [child.tag for child in elem]
    if tags[: len(expected)] != list(expected):
        raise MalformedInput(
            f"protInfo.xml: {where} must hold the elements {', '.join(expected)} in this order; "
            f"found {', '.join(map(str, tags)) or 'none'}"
        )
    for child in list(elem)[: len(expected)]:
        if len(child):
            raise MalformedInput(f"protInfo.xml: {where}/{child.tag} must hold text, not elements")
        value = child.text or ""
        if value != value.strip():
            raise MalformedInput(
                f"protInfo.xml: {where}/{child.tag} has whitespace around its value {value!r}"
            )
        values[str(child.tag)] = value
    return values


def parse_protinfo(text: str) -> ProtInfoFile:
    """Parse a Verificatum ``protInfo.xml`` (the merged file ``vmni`` writes).

    Strict: DOCTYPE/ENTITY declarations are refused (no entity expansion can happen), every
    element of Verificatum's schema is present and in schema order, no whitespace around values,
    integers decimal and canonical, one ``<party>`` block per party, ``width >= 1`` and
    ``keywidth == 1``. Raises :class:`MalformedInput` naming the field.
    """
    if not isinstance(text, str):
        raise TypeError("parse_protinfo: text must be a str")
    if "<!DOCTYPE" in text or "<!ENTITY" in text:
        raise MalformedInput("protInfo: DOCTYPE/ENTITY declarations are not allowed")
    try:
        root = ET.fromstring(text)
    except ET.ParseError as exc:
        raise MalformedInput(f"protInfo: not well-formed XML ({exc})") from None
    if root.tag != "protocol":
        raise MalformedInput(f"protInfo: root element is <{root.tag}>, expected <protocol>")
    values = _children(root, PROTOCOL_FIELDS, "protocol")
    rest = list(root)[len(PROTOCOL_FIELDS) :]
    parties: list[PartyInfo] = []
    for i, elem in enumerate(rest):
        if elem.tag != "party":
            raise MalformedInput(f"protInfo.xml: unexpected element <{elem.tag}> after <maxciph>")
        pv = _children(elem, PARTY_FIELDS, f"party[{i + 1}]")
        if len(elem) != len(PARTY_FIELDS):
            raise MalformedInput(f"protInfo.xml: party[{i + 1}] has unexpected extra elements")
        parties.append(PartyInfo(**pv))
    kwargs: dict[str, Any] = {k: v for k, v in values.items() if k not in _INT_FIELDS}
    for key in _INT_FIELDS:
        raw = values[key]
        if not (raw == "0" or _DECIMAL_RE.fullmatch(raw)):
            raise MalformedInput(f"protInfo.xml: <{key}> must be a decimal integer, got {raw!r}")
        kwargs[key] = int(raw)
    info = ProtInfoFile(**kwargs, parties=tuple(parties))
    if info.nopart < 1 or len(info.parties) != info.nopart:
        raise MalformedInput(
            f"protInfo.xml: <nopart> is {info.nopart} but there are "
            f"{len(info.parties)} <party> blocks"
        )
    if not 1 <= info.thres <= info.nopart:
        raise MalformedInput(f"protInfo.xml: <thres> {info.thres} not in 1..nopart={info.nopart}")
    if info.width < 1 or info.keywidth != 1:
        raise MalformedInput("protInfo: width must be >= 1 and keywidth must be 1")
    return info


def render_protinfo(info: ProtInfoFile) -> str:
    """Write ``info`` as protInfo.xml: schema order, one element a line, no whitespace in values.

    The output parses back to ``info`` (and renders to the same string again).
    """
    lines = ["<protocol>"]
    for key in PROTOCOL_FIELDS:
        lines.append(f"<{key}>{escape(str(getattr(info, key)))}</{key}>")
    for party in info.parties:
        lines.append("<party>")
        lines.extend(f"<{key}>{escape(getattr(party, key))}</{key}>" for key in PARTY_FIELDS)
        lines.append("</party>")
    lines.append("</protocol>")
    return "\n".join(lines) + "\n"
