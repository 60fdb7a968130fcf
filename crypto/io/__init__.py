"""The only modules of ``crypto/`` that do I/O (read and write files, print, parse arguments).

Everything else in ``crypto/`` is pure: bytes and values in, bytes and values out, randomness
injected. The modules here are thin command-line and file adapters around those pure functions:
the credential authority (:mod:`crypto.io.authority`, ``mixvote-credentials``) and, as they move
here, the standalone verifier's command line and the reading of exported record directories.
"""
