"""Reading directories from disk into the file maps the pure verifiers take.

An exported election record (``docs/record.md``) or a Verificatum proof directory becomes
``{relative path with "/" separators: bytes}``; :func:`locate_verificatum` finds the proof
directory and ``protInfo.xml`` from what a user names on the command line.
"""

from __future__ import annotations

from pathlib import Path

from crypto.errors import UsageError

#: Refuse to read more than this from a directory (a proof for 10^6 ciphertexts is ~0.5 GB).
MAX_DIRECTORY_BYTES = 4 * 2**30


def read_directory(root: Path, limit: int = MAX_DIRECTORY_BYTES) -> dict[str, bytes]:
    """Every regular file under ``root`` as a file map (``/``-separated relative paths)."""
    if not root.is_dir():
        raise UsageError(f"{root}: not a directory")
    files: dict[str, bytes] = {}
    total = 0
    for path in sorted(root.rglob("*")):
        if path.is_symlink():
            raise UsageError(f"{path}: symbolic links are not followed; copy the file instead")
        if not path.is_file():
            continue
        total += path.stat().st_size
        if total > limit:
            raise UsageError(f"{root}: more than {limit} bytes of files")
        files[path.relative_to(root).as_posix()] = path.read_bytes()
    return files


def locate_verificatum(
    directory: Path, protinfo: Path | None, auxsid: str | None
) -> tuple[Path, Path, str | None]:
    """``(proof directory, protInfo.xml, expected auxsid or None)`` for the arguments given."""
    directory = directory.resolve()
    if not directory.is_dir():
        raise UsageError(f"{directory}: not a directory")
    nizkp = directory / "nizkp"
    if not (directory / "version").exists() and nizkp.is_dir():
        # The set's root directory: pick nizkp/<auxsid>.
        subdirs = sorted(p.name for p in nizkp.iterdir() if p.is_dir())
        if auxsid is not None:
            if auxsid not in subdirs:
                raise UsageError(f"{nizkp}: no directory for auxsid {auxsid!r} (found {subdirs})")
            chosen = auxsid
        elif len(subdirs) == 1:
            chosen = subdirs[0]
        else:
            raise UsageError(f"{nizkp}: proof directories {subdirs}; pick one with --auxsid")
        directory = nizkp / chosen
    if protinfo is None:
        candidates = [
            directory / "protInfo.xml",
            directory.parent / "protInfo.xml",
            directory.parent.parent / "protInfo.xml",
        ]
        found = [c for c in candidates if c.is_file()]
        if not found:
            raise UsageError(
                f"no protInfo.xml beside {directory} (looked in it and two levels up); "
                "name one with --protinfo FILE"
            )
        protinfo = found[0]
    elif not protinfo.is_file():
        raise UsageError(f"{protinfo}: no such file")
    if auxsid is None and directory.parent.name == "nizkp":
        auxsid = directory.name  # the directory name binds the auxsid file
    return directory, protinfo, auxsid
