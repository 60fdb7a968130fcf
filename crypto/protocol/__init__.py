"""The sans-io protocol layer: wire messages and frames (:mod:`.wire`).

Builds on the maths of ``crypto/`` and on the election record (:mod:`crypto.record`: entries,
the hash chain, signatures); the verifier (:mod:`crypto.verify`) builds on it.
"""
