"""The Verificatum Mix-Net's conventions and formats (VMN 3.1.0), re-implemented from their
description.

Sources: D. Wikström, "How to implement a stand-alone verifier for the Verificatum mix-net"
(VMN 3.1.0), and our own checked write-up ``verificatum-format.md``. Verificatum's code is AGPL
and was not used. Sub-modules, each with one job:

* :mod:`.bytetree`: the byte-tree format (§1.1);
* :mod:`.conventions`: hash functions, PRG (§2.2), random oracle (§2.3), group strings and ρ
  (§3), the independent generators (§4);
* :mod:`.codec`: the byte-tree codecs of points, scalars, ciphertext lists and keys (§1.2–§1.5);
* :mod:`.protinfo`: the one parser and writer of ``protInfo.xml`` (§6.2);
* :mod:`.directory`: shuffle-proof directories, in and out (§6); imported by its full name,
  since it builds on :mod:`crypto.shuffle`, which builds on this package.
"""

from crypto.verificatum.codec import (
    Codec,
    codec,
    columns_of,
    decode_ciphertext_list,
    decode_public_key,
    encode_ciphertext_list,
    encode_public_key,
    rows_of,
)
from crypto.verificatum.conventions import (
    ECQ_CLASS,
    GENERATOR_LABEL,
    HASHES,
    MIXVOTE_CLASS,
    PRG,
    compute_rho,
    generator_coordinates,
    generators,
    group_from_string,
    group_string,
    hash_function,
    int32,
    random_oracle,
    validate_identifier,
    verificatum_name,
)
from crypto.verificatum.protinfo import PartyInfo, ProtInfoFile, parse_protinfo, render_protinfo

__all__ = [
    "ECQ_CLASS",
    "GENERATOR_LABEL",
    "HASHES",
    "MIXVOTE_CLASS",
    "PRG",
    "Codec",
    "PartyInfo",
    "ProtInfoFile",
    "codec",
    "columns_of",
    "compute_rho",
    "decode_ciphertext_list",
    "decode_public_key",
    "encode_ciphertext_list",
    "encode_public_key",
    "generator_coordinates",
    "generators",
    "group_from_string",
    "group_string",
    "hash_function",
    "int32",
    "parse_protinfo",
    "random_oracle",
    "render_protinfo",
    "rows_of",
    "validate_identifier",
    "verificatum_name",
]
