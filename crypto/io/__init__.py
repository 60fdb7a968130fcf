"""The edge of ``crypto/``: the only modules here allowed the OS, processes, threads and files.

* :mod:`.pool`: the process pools behind the pure code's injected ``mapper``;
* :mod:`.recorddir`: reading an exported record directory (or a Verificatum proof directory)
  from disk into the file maps the pure verifiers take;
* :mod:`.cli`: ``mixverify``, the verifier's command line (argument parsing, progress bars, exit
  codes from :data:`crypto.errors.ERROR_TABLE`);
* :mod:`.authority`: ``mixvote-credentials``, the credential authority's command line.

Everything else in ``crypto/`` is pure (``tests/unit/test_rings.py`` enforces it).
"""
