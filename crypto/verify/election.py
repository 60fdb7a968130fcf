"""Stages 4–5 of the record verifier: the election parameters and the group, the enrolled node
identities, who signed which entry, and the DKG (the joint key, verification keys and qualified
set recomputed from the transcript: Pedersen/Feldman joint VSS, :func:`crypto.dkg.dkg_result`)."""

from __future__ import annotations

import json
from typing import Any

from crypto.ballot import BALLOT_POLICIES
from crypto.credentials import (
    credential_list_digest,
    decode_credential_list,
    verify_credential_list,
)
from crypto.dkg import ComplaintMsg, Deal, DkgParams, ResponseMsg, dkg_result
from crypto.elgamal import encode_public_key
from crypto.errors import InvalidProof, MalformedInput, MixvoteError, ProtocolViolation
from crypto.fingerprint import (
    ParameterError,
    compute_fingerprint,
    format_fingerprint,
    validate_parameters,
)
from crypto.groups import GROUPS, group
from crypto.protocol.wire import canonical_json
from crypto.record import GENESIS
from crypto.transport import PublicIdentity
from crypto.verify.state import RECORD_NODE_KINDS, Abort, Run


def check_params(run: Run) -> None:
    found = run.first("election.params")
    if found is None:
        run.fail("parameters", "election.params", "no parameters entry: nothing else can "
                 "be checked", MalformedInput)
        raise Abort
    i, msg = found
    where = run.where(i)
    entry = run.entries[i]
    assert entry is not None
    raw = msg["params"]
    try:
        params = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        run.fail("parameters", where, "the parameters are not JSON", MalformedInput)
        raise Abort from None
    if not isinstance(params, dict):
        run.fail("parameters", where, "the parameters are not a JSON object", MalformedInput)
        raise Abort
    bad: list[str] = []
    if canonical_json(params) != raw:
        bad.append("not in canonical JSON form")
    try:
        validate_parameters(params)
    except ParameterError as exc:
        bad.append(f"invalid parameters: {exc}")
    if params.get("id") != run.eid:
        bad.append(f"id {params.get('id')!r} is not the election id {run.eid!r}")
    if params.get("group") not in GROUPS:
        bad.append(f"unknown group {params.get('group')!r}")
    for key, low, high in (("n", 1, 64), ("t", 1, 64), ("width", 1, 64),
                           ("voters", 0, 1_000_000)):
        if key == "voters" and key not in params:
            continue  # optional: a test election's credential count
        value = params.get(key)
        if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
            bad.append(f"{key} must be an integer in {low}..{high}, got {value!r}")
    if not bad and params["t"] > params["n"]:
        bad.append(f"t={params['t']} exceeds n={params['n']}")
    choices = params.get("choices")
    if not isinstance(choices, list) or not choices or not all(
        isinstance(c, str) for c in choices
    ):
        bad.append("choices must be a non-empty list of strings")
    if params.get("policy") not in BALLOT_POLICIES:
        bad.append(f"policy {params.get('policy')!r} is not one of {BALLOT_POLICIES}")
    server_key = msg["server_key"]
    if server_key != entry.author:
        bad.append("the server key in the parameters is not the key that signed them")
    if run.meta.get("server_key") != server_key.hex():
        bad.append("election.json names another server key")
    if run.meta.get("params") != params:
        bad.append("election.json has other parameters than the signed entry")
    if run.expected_server_key is not None and server_key != run.expected_server_key:
        bad.append(f"the record's server key {server_key.hex()[:16]}… is not the expected "
                   f"{run.expected_server_key.hex()[:16]}…")
    for text in bad:
        run.fail("parameters", where, text, MalformedInput)
    if any(k.startswith(("unknown group", "n ", "t ", "width", "choices")) for k in bad):
        raise Abort
    run.params, run.server_key = params, server_key
    run.g = group(params["group"])
    run.summary["test_election"] = params.get("test") is True
    if not bad:
        run.ok("parameters", where, f"group {params['group']}, n={params['n']}, "
               f"t={params['t']}, width {params['width']}, {len(params['choices'])} choices"
               + (", TEST election (the server held the credentials)"
                  if params.get("test") is True else ""))


def check_credentials(run: Run) -> None:
    """The authority-signed public credential list: well formed, signed by the authority it
    names (and by the expected one, when the auditor has it), for this election, with the
    parameters' test flag and (if the parameters give one) the voter count."""
    found = run.first("credentials.list")
    if found is None:
        run.fail("credential list", "credentials.list", "no credential list: no ballot can be "
                 "checked against it", MalformedInput)
        return
    i, msg = found
    where = run.where(i)
    try:
        obj = json.loads(msg["list"].decode("utf-8"))
        clist = decode_credential_list(obj, f"{where}: credential list")
        verify_credential_list(clist, run.expected_authority, f"{where}: credential list")
    except (UnicodeDecodeError, ValueError):
        run.fail("credential list", where, "not JSON", MalformedInput)
        return
    except MixvoteError as exc:
        run.fail("credential list", where, exc)
        return
    bad = []
    if clist.election_id != run.eid:
        bad.append(f"for election {clist.election_id!r}, not {run.eid!r}")
    if clist.test != (run.params.get("test") is True):
        bad.append(f"the list's test flag ({clist.test}) is not the parameters'")
    voters = run.params.get("voters")
    if voters is not None and voters != len(clist.credentials):
        bad.append(f"{len(clist.credentials)} credentials but the parameters say "
                   f"voters={voters}")
    for text in bad:
        run.fail("credential list", where, text, InvalidProof)
    if bad:
        return
    run.clist = clist
    run.credentials = frozenset(clist.credentials)
    run.summary["authority"] = clist.authority.hex()
    run.summary["credentials"] = len(clist.credentials)
    who = (" by the server acting as the authority (test election)" if clist.test
           else f" by authority {clist.authority.hex()[:16]}…")
    run.ok("credential list", where, f"{len(clist.credentials)} public credentials, "
           f"signed{who}")


def check_fingerprint(run: Run) -> None:
    """Recompute the election fingerprint from the record (parameters, credential list, node
    keys in position order); every node must have signed it (``node.endorse``), and every node
    entry must bind it and a chain head that is a prefix of this record."""
    n = run.params["n"]
    if run.clist is None or len(run.node_keys) != n:
        run.fail("fingerprint", "record", "not checkable: the credential list or the node "
                 "identities are missing", ProtocolViolation)
        return
    try:
        fp = compute_fingerprint(run.params, run.clist.authority,
                                 credential_list_digest(run.clist),
                                 [run.node_keys[p] for p in range(1, n + 1)])
    except MixvoteError as exc:
        run.fail("fingerprint", "record", exc)
        return
    run.fingerprint = fp
    run.summary["fingerprint"] = fp.hex()
    endorsed: dict[int, int] = {}
    bad = 0
    for i, msg in enumerate(run.messages):
        if msg is None or msg.kind not in RECORD_NODE_KINDS:
            continue
        where = run.where(i)
        pos = run.author_position(i)
        if msg["fingerprint"] != fp:
            run.fail("fingerprint", f"{where}, node {pos}", "the node signed another election "
                     f"fingerprint ({msg['fingerprint'].hex()[:16]}…) than the one recomputed "
                     f"from the record ({fp.hex()[:16]}…): the parameters, the credential "
                     "list or the node keys are not what this node agreed to", InvalidProof)
            bad += 1
        size, head = msg["seen_size"], msg["seen_head"]
        if size > i:
            run.fail("seen head", f"{where}, node {pos}", f"the node says it saw {size} "
                     f"entries before entry {i} was made: the server removed, altered or "
                     "reordered an entry the node had seen", InvalidProof)
            bad += 1
        elif (head != GENESIS) if size == 0 else (run.hashes[size - 1] != head):
            run.fail("seen head", f"{where}, node {pos}", f"the node saw a chain of {size} "
                     "entries whose head is not this record's entry "
                     f"{size - 1}: the server removed, altered or reordered an entry the "
                     "node had seen", InvalidProof)
            bad += 1
        if msg.kind == "node.endorse" and pos is not None:
            endorsed.setdefault(pos, i)
        elif pos is not None and (pos not in endorsed):
            run.fail("fingerprint", f"{where}, node {pos}", "a node entry before the node "
                     "signed the fingerprint (node.endorse)", ProtocolViolation)
            bad += 1
    if not bad:
        run.ok("fingerprint", format_fingerprint(fp), f"recomputed from the record; signed "
               f"by nodes {sorted(endorsed)} and bound, with a prefix of this chain, in every "
               "node entry")


def check_nodes(run: Run) -> None:
    n, bad = run.params["n"], 0
    for i, msg in run.of_kind("node.enrolled"):
        where, position, key = run.where(i), msg["position"], msg["public_key"]
        try:
            PublicIdentity.from_bytes(key)
        except MixvoteError as exc:
            run.fail("nodes", where, exc)
            bad += 1
            continue
        if not 1 <= position <= n:
            run.fail("nodes", where, f"position {position} is not in 1..{n}",
                     ProtocolViolation)
        elif position in run.node_keys:
            run.fail("nodes", where, f"node {position} enrolled twice", ProtocolViolation)
        elif key in run.node_keys.values():
            run.fail("nodes", where, f"node {position}'s key is already enrolled",
                     ProtocolViolation)
        else:
            run.node_keys[position] = key
            continue
        bad += 1
    missing = [p for p in range(1, n + 1) if p not in run.node_keys]
    if missing:
        run.fail("nodes", "node.enrolled", f"nodes {missing} were never enrolled",
                 ProtocolViolation)
    elif not bad:
        run.ok("nodes", "node.enrolled", f"{n} distinct node identities at positions 1..{n}")


def check_authors(run: Run) -> None:
    """Server kinds signed by the server key, node kinds by an enrolled node's key."""
    node_signers = {key[:32]: pos for pos, key in run.node_keys.items()}
    bad = 0
    for i, msg in enumerate(run.messages):
        entry = run.entries[i]
        if msg is None or entry is None:
            continue
        if msg.kind in RECORD_NODE_KINDS:
            if entry.author not in node_signers:
                run.fail("author", run.where(i), "signed by a key that is not an enrolled "
                         f"node's ({entry.author.hex()[:16]}…)", ProtocolViolation)
                bad += 1
        elif entry.author != run.server_key:
            run.fail("author", run.where(i), "a server entry signed by a key that is not "
                     f"the server's ({entry.author.hex()[:16]}…)", ProtocolViolation)
            bad += 1
    if not bad:
        run.ok("author", "", "server entries signed by the server key, node entries by "
               "enrolled nodes")


def check_dkg(run: Run) -> None:
    g, n, t = run.g, run.params["n"], run.params["t"]
    assert g is not None
    if len(run.node_keys) != n:
        run.fail("DKG", "dkg", "not checkable: the node identities are incomplete",
                 ProtocolViolation)
        return
    params = DkgParams(g, run.eid, n, t, tuple(run.node_keys[p] for p in range(1, n + 1)))
    maps: dict[str, dict[int, Any]] = {}
    bad = 0
    for kind, parser, attr in (("dkg.deal", Deal, "dealer"),
                               ("dkg.complaint", ComplaintMsg, "sender"),
                               ("dkg.response", ResponseMsg, "dealer")):
        mapping: dict[int, Any] = {}
        for i, msg in run.of_kind(kind):
            where = run.where(i)
            try:
                parsed = parser.from_bytes(params, msg["data"])
            except MixvoteError as exc:
                run.fail("DKG", where, exc)
                bad += 1
                continue
            sender = getattr(parsed, attr)
            if run.author_position(i) != sender:
                run.fail("DKG", where, f"message of node {sender} signed by node "
                         f"{run.author_position(i)}", ProtocolViolation)
                bad += 1
            elif sender in mapping:
                run.fail("DKG", where, f"node {sender} sent a second {kind}",
                         ProtocolViolation)
                bad += 1
            else:
                mapping[sender] = parsed
        maps[kind] = mapping
    found = run.first("dkg.result")
    if found is None:
        return
    i, msg = found
    where = run.where(i)
    try:
        result = dkg_result(params, maps["dkg.deal"], maps["dkg.complaint"],
                            maps["dkg.response"])
    except MixvoteError as exc:
        run.fail("DKG", where, f"the transcript gives no key: {exc}")
        return
    pk = encode_public_key(result.public_key)
    vkeys = [g.encode(result.verification_keys[j]) for j in range(1, n + 1)]
    qualified = [str(j).encode() for j in result.qualified]
    if msg["public_key"] != pk:
        run.fail("DKG", where, "the joint public key is not the one the transcript gives")
        bad += 1
    if list(msg["verification_keys"]) != vkeys:
        wrong = [j + 1 for j, v in enumerate(vkeys)
                 if j >= len(msg["verification_keys"]) or msg["verification_keys"][j] != v]
        run.fail("DKG", where, f"verification keys of nodes {wrong} differ from the "
                 "transcript's")
        bad += 1
    if list(msg["qualified"]) != qualified:
        recorded = [q.decode(errors="replace") for q in msg["qualified"]]
        run.fail("DKG", where, f"qualified set {recorded} is not the transcript's "
                 f"{list(result.qualified)}")
        bad += 1
    run.public_key, run.verification_keys = pk, vkeys
    run.qualified = list(result.qualified)
    for j, reason in sorted(result.disqualified.items()):
        run.ok("DKG disqualification", f"node {j}", reason)
    opened = run.of_kind("voting.opened")
    if opened and opened[0][1]["public_key"] != pk:
        run.fail("DKG", run.where(opened[0][0]), "voting opened with another public key "
                 "than the DKG's")
        bad += 1
    if not bad:
        run.ok("DKG", where, f"joint key {pk.hex()[:16]}…, {n} verification keys and "
               f"qualified set {run.qualified} recomputed from the transcript")
