"""Pages for everyone: the election list, an election's page (phase, live mixing view), the
bulletin board with receipt look-up, and the results with their charts and downloads."""

from __future__ import annotations

import csv
import io
import re
from typing import Any

from flask import Blueprint, Response, abort, current_app, render_template, request, send_file

from crypto.encoding import split_fixed
from crypto.groups import group as get_group
from webui.charts import bar_chart, flatten_timings
from webui.security import services

bp = Blueprint("public", __name__)

ELECTION_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
TRACKER = re.compile(r"^[0-9a-fA-F]{64}$")


def check_eid(eid: str) -> str:
    """Election ids in URLs are short tokens; anything else is a 404 before the services see it."""
    if not ELECTION_ID.match(eid):
        abort(404)
    return eid


@bp.get("/healthz")
def healthz() -> tuple[str, int, dict[str, str]]:
    return "ok\n", 200, {"Content-Type": "text/plain; charset=utf-8"}


@bp.get("/")
def index() -> str:
    return render_template("index.html", elections=services().list_elections())


@bp.get("/elections/<eid>")
def election(eid: str) -> str:
    e = services().get_election(check_eid(eid))
    ws_path = current_app.config["STATUS_WS_PATH"].format(eid=eid)
    return render_template("election.html", e=e, ws_path=ws_path,
                           timings=flatten_timings(e.get("timings") or {}))


@bp.get("/elections/<eid>/board")
def board(eid: str) -> str:
    svc = services()
    e = svc.get_election(check_eid(eid))
    raw = request.args.get("offset", "").strip()
    if raw and not (raw.isascii() and raw.isdigit() and len(raw) <= 9):
        abort(400, description=f"offset: a non-negative integer of at most 9 digits, "
                               f"got {raw[:20]!r}")
    offset = int(raw) if raw else 0
    page = svc.board(eid, offset=offset, limit=50)
    receipt = request.args.get("receipt", "").strip()
    found: dict[str, Any] | None = None
    receipt_error = None
    if receipt:
        if TRACKER.match(receipt):
            found = svc.find_receipt(eid, receipt.lower())
            if found is None:
                receipt_error = "No ballot with this receipt is on the board."
        else:
            receipt_error = "A receipt is 64 hexadecimal characters."
    return render_template("board.html", e=e, page=page, receipt=receipt, found=found,
                           receipt_error=receipt_error)


@bp.get("/elections/<eid>/results")
def results(eid: str) -> str:
    svc = services()
    e = svc.get_election(check_eid(eid))
    res = svc.results(eid)
    rows = current_app.config["PREVIEW_ROWS"]
    tally_chart = timing_chart = None
    if res is not None:
        counts = res.get("counts") or {}
        choices = list(e.get("choices") or [])
        order = choices + [c for c in counts if c not in choices]
        tally_chart = bar_chart([(c, counts.get(c, 0)) for c in order], unit="ballots")
        timings = flatten_timings(res.get("timings") or e.get("timings") or {})
        timing_chart = bar_chart(timings, unit="s") if timings else None
    lists = _record_lists(svc, e)
    record = {k: {"total": len(v), "rows": v[:rows]} for k, v in lists.items()}
    return render_template("results.html", e=e, res=res, tally_chart=tally_chart,
                           timing_chart=timing_chart, record=record, rows=rows)


def _record_lists(svc: Any, e: dict[str, Any]) -> dict[str, list[str]]:
    """The input and mixed ciphertext lists as hex rows (one ciphertext each)."""
    size = 2 * int(e.get("width") or 1) * get_group(e["group"]).element_size
    return {
        which: [row.hex() for row in split_fixed(data, size, which)] if data else []
        for which, data in svc.ciphertext_lists(e["id"]).items()
    }


@bp.get("/elections/<eid>/record.zip")
def record_zip(eid: str) -> Response:
    """The whole record as a zip of the exported directory (``mixverify DIR`` checks it), built
    once per chain head by the services and streamed from the file (the server answers this
    path natively; this view serves the web UI when it runs on its own)."""
    info = services().record_zip(check_eid(eid))
    response = send_file(info["path"], mimetype="application/zip", as_attachment=True,
                         download_name=f"{eid}-record.zip", etag=info["head"][:32])
    response.headers["Cache-Control"] = "no-cache"
    return response


@bp.get("/elections/<eid>/<which>.csv")
def list_csv(eid: str, which: str) -> Response:
    """The full input list (``inputs.csv``) or the final mixed list (``mixed.csv``), one
    ciphertext per row, hex."""
    if which not in ("inputs", "mixed"):
        abort(404)
    svc = services()
    rows = _record_lists(svc, svc.get_election(check_eid(eid))).get(which)
    if rows is None:
        abort(404, description=f"The {which} list is not in the record yet.")
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["row", "ciphertext"])
    for i, row in enumerate(rows):
        writer.writerow([i, row])
    return Response(out.getvalue(), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{eid}-{which}.csv"'})
