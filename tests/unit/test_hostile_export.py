"""Exports never delete anything of the user's; ``record.zip`` is built once per chain head
(issue 13)."""

from __future__ import annotations

import io
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import pytest
from tornado.testing import AsyncHTTPTestCase

import mixserver.export as export
from crypto.errors import MalformedInput
from crypto.record import decode_entry, verify_chain
from crypto.transport import NodeIdentity
from mixserver.app import make_app
from mixserver.services import ElectionServices


@pytest.fixture()
def services(tmp_path: Path) -> Any:
    svc = ElectionServices(tmp_path / "data")
    yield svc
    svc.db.close()


def new_election(svc: ElectionServices) -> str:
    return str(svc.create_election(title="T", question="Q", choices=["a", "b"], n=2, voters=3,
                                   test=True)["id"])


def test_export_into_a_new_or_empty_directory(services: ElectionServices, tmp_path: Path) -> None:
    eid = new_election(services)
    out = services.export_record(eid, tmp_path / "new" / "rec")
    assert (tmp_path / "new" / "rec" / "index.json").is_file() and out["entries"] == 2
    (tmp_path / "empty").mkdir()
    services.export_record(eid, tmp_path / "empty")
    assert (tmp_path / "empty" / "election.json").is_file()


def test_export_refuses_a_non_empty_directory_and_deletes_nothing(
    services: ElectionServices, tmp_path: Path
) -> None:
    eid = new_election(services)
    home = tmp_path / "home"
    (home / "docs").mkdir(parents=True)
    (home / "docs" / "thesis.tex").write_text("years of work")
    (home / ".bashrc").write_text("alias ll='ls -l'")
    with pytest.raises(MalformedInput, match="not empty"):
        services.export_record(eid, home)
    assert (home / "docs" / "thesis.tex").read_text() == "years of work"
    assert sorted(p.name for p in home.iterdir()) == [".bashrc", "docs"]
    a_file = tmp_path / "file"
    a_file.write_text("x")
    with pytest.raises(MalformedInput, match="not a directory"):
        services.export_record(eid, a_file)
    assert a_file.read_text() == "x"
    # the previous export of the same record is not overwritten either
    services.export_record(eid, tmp_path / "once")
    with pytest.raises(MalformedInput):
        services.export_record(eid, tmp_path / "once")


def test_record_zip_is_built_once_per_chain_head(
    services: ElectionServices, monkeypatch: pytest.MonkeyPatch
) -> None:
    eid = new_election(services)
    builds: list[Path] = []
    real = export.export_record

    def counting(board: Any, e: str, dest: Path) -> dict[str, Any]:
        builds.append(dest)
        return real(board, e, dest)

    monkeypatch.setattr(export, "export_record", counting)
    first = services.record_zip(eid)
    again = services.record_zip(eid)
    assert first == again and len(builds) == 1
    assert first["head"] == export.chain_head(services.db, eid)
    with zipfile.ZipFile(first["path"]) as zf:
        names = [n for n in zf.namelist() if n.startswith(f"{eid}/entries/")]
        entries = [decode_entry(zf.read(n)) for n in sorted(names)]
    assert verify_chain(entries, eid).hex() == first["head"]
    assert not any(p.exists() for p in builds)  # the build directory is gone
    # a new entry (a node's key enrolled) moves the head: one new build, the old zip removed
    services.enrol_node(eid, NodeIdentity.generate().public_bytes().hex(), 1)
    second = services.record_zip(eid)
    assert second["head"] != first["head"] and len(builds) == 2
    assert not Path(first["path"]).exists() and Path(second["path"]).is_file()
    zips = list(Path(second["path"]).parent.glob("*.zip"))
    assert zips == [Path(second["path"])]


class TestRecordZipHandler(AsyncHTTPTestCase):
    def get_app(self) -> Any:
        self._tmp = tempfile.TemporaryDirectory()
        self.services = ElectionServices(Path(self._tmp.name) / "data")
        self.eid = new_election(self.services)
        return make_app(self.services)

    def tearDown(self) -> None:
        super().tearDown()
        self.services.db.close()
        self._tmp.cleanup()

    def test_streamed_cached_and_conditional(self) -> None:
        first = self.fetch(f"/elections/{self.eid}/record.zip")
        assert first.code == 200 and first.headers["Content-Type"] == "application/zip"
        assert int(first.headers["Content-Length"]) == len(first.body)
        with zipfile.ZipFile(io.BytesIO(first.body)) as zf:
            assert f"{self.eid}/election.json" in zf.namelist()
        etag = first.headers["ETag"]
        second = self.fetch(f"/elections/{self.eid}/record.zip")
        assert second.body == first.body and second.headers["ETag"] == etag
        cached = self.fetch(f"/elections/{self.eid}/record.zip",
                            headers={"If-None-Match": etag})
        assert cached.code == 304
        missing = self.fetch("/elections/nosuch/record.zip")
        assert missing.code == 404
