"""t-of-n distributed key generation: Joint-Feldman with complaints, as pure state machines.

References
    T. P. Pedersen, "A threshold cryptosystem without a trusted party", EUROCRYPT '91 (the joint
    Feldman DKG); R. Gennaro, S. Jarecki, H. Krawczyk, T. Rabin, "Secure distributed key generation
    for discrete-log based cryptosystems", EUROCRYPT '99 / J. Cryptology 2007, §3 (the protocol
    with complaints and the disqualification rules used here; their threshold ``t`` is our ``t-1``)
    and R. Gennaro, S. Jarecki, H. Krawczyk, T. Rabin, "Secure applications of Pedersen's
    distributed key generation protocol", CT-RSA 2003 (Joint-Feldman's possibly biased key is still
    secure for threshold ElGamal decryption, so we do not need the Pedersen-commitment round).
    P. Feldman, "A practical scheme for non-interactive verifiable secret sharing", FOCS '87.

Notation (additive): group ``G`` of prime order ``q`` with generator ``g``; nodes ``1..n``;
threshold ``t`` (any ``t`` shares decrypt, ``t-1`` learn nothing); node ``i`` is both a dealer and a
receiver.

Round 1 — :class:`Deal` from dealer ``i``
    a random polynomial ``f_i(z) = a_{i,0} + a_{i,1} z + … + a_{i,t-1} z^{t-1}``; Feldman
    commitments ``C_{i,k} = a_{i,k}·g`` (``k < t``); a Schnorr proof of knowledge of ``a_{i,0}``
    (``R = r·g``, ``c = H("dkg-pok", params, i, C_{i,0..t-1}, R)``, ``z = r + c·a_{i,0}``), which
    stops a rogue-key dealer from choosing ``C_{i,0}`` as a function of the others' commitments; and
    for every ``j ≠ i`` the share ``s_{ij} = f_i(j)`` sealed to ``j``'s X25519 key with
    :func:`crypto.transport.seal`, the associated data binding (election, i, j).
Round 2 — :class:`ComplaintMsg` from node ``j``
    ``j`` opens ``s_{ij}`` and checks ``s_{ij}·g == Σ_k j^k·C_{i,k}``; a share that does not
    decrypt, does not parse or fails the check is a complaint against ``i``. (A dealer whose deal
    is publicly invalid — bad proof, wrong shape — is disqualified by everyone without complaint.)
    Every node sends a complaint message, possibly empty.
Round 3 — :class:`ResponseMsg` from dealer ``i``
    ``i`` reveals ``s_{ij}`` in clear for every complaint against it (possibly none).
Result — :func:`dkg_result`, a pure function of the public transcript
    dealer ``i`` is disqualified if its deal is missing or invalid, if it received complaints from
    ``t`` or more nodes (GJKR §3, Fig. 2, step 1(e): that many revealed shares would reveal its
    secret), or if any complaint against it has no answer or an answer failing the Feldman check.
    ``QUAL`` is the rest; fewer than ``t`` qualified dealers aborts the run. The election key is
    ``y = Σ_{i∈QUAL} C_{i,0}`` and node ``j``'s verification key is
    ``Y_j = Σ_{i∈QUAL} Σ_k j^k·C_{i,k}``; node ``j``'s secret share is
    ``x_j = Σ_{i∈QUAL} s_{ij}`` (so ``x_j·g = Y_j``), which only ``j`` can compute.

Nobody ever holds the joint secret ``Σ a_{i,0}``: each node knows its own polynomial (forgotten
after dealing except its evaluations, which are forgotten when the run ends) and its share ``x_j``;
the coordinator only relays messages. The protocol assumes a broadcast channel: every node must be
given the same deals, complaints and responses (the signed, hash-chained bulletin board provides
this); the coordinator is responsible for authenticating senders (a message's index must be its
signer's position in ``participants``).

Wire encodings (``to_bytes``/``from_bytes``), integers big-endian, every message starting with a
one-byte type and the 32-byte digest of the parameters (so a message of another run is rejected):

* Deal ``0x01 || digest || dealer:u32 || C_{i,0..t-1} (t elements) || c || z || sealed shares``,
  the sealed shares for ``j = 1..n, j ≠ i`` ascending, each ``scalar_size + SEAL_OVERHEAD`` bytes;
* ComplaintMsg ``0x02 || digest || sender:u32 || count:u32 || accused:u32 × count`` (strictly
  increasing, in 1..n, never the sender);
* ResponseMsg ``0x03 || digest || dealer:u32 || count:u32 || (receiver:u32 || s:scalar) × count``
  (receivers strictly increasing, in 1..n, never the dealer).
"""

from crypto.dkg.messages import ComplaintMsg, Deal, DkgAborted, DkgParams, ResponseMsg, SchnorrProof
from crypto.dkg.participant import DkgParticipant
from crypto.dkg.vss import DkgResult, KeyShare, commitment_at, dkg_result, verify_deal

__all__ = [
    "ComplaintMsg",
    "Deal",
    "DkgAborted",
    "DkgParams",
    "DkgParticipant",
    "DkgResult",
    "KeyShare",
    "ResponseMsg",
    "SchnorrProof",
    "commitment_at",
    "dkg_result",
    "verify_deal",
]
