"""Running the browser's JavaScript modules under node for the JS/Python agreement tests.

:func:`require_js_side` fails under CI (``CI`` set and not 0/false) and skips elsewhere when node
or an npm dependency of package.json is missing, saying what is missing. :func:`run_js` runs a
list of JSON cases through a driver: the modules are imported under the given names, each case
goes to the driver's ``run(c)``, and one ``{ok, value}`` or ``{ok: false, error}`` comes back per
case.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
JS_DIR = ROOT / "webui" / "static" / "js"
UNDER_CI = os.environ.get("CI", "").lower() not in ("", "0", "false")

_PRELUDE = r"""
import { readFileSync } from 'node:fs';

const cases = JSON.parse(readFileSync(0, 'utf8'));
const out = [];
for (const c of cases) {
  try {
    out.push({ ok: true, value: run(c) });
  } catch (e) {
    out.push({ ok: false, error: String(e && e.message || e) });
  }
}
process.stdout.write(JSON.stringify(out));
"""


def missing_prerequisites(
    root: Path = ROOT, which: Callable[[str], str | None] = shutil.which
) -> list[str]:
    """What the JS side needs and is not there: node on PATH, each npm dependency of
    package.json installed in node_modules."""
    missing = []
    if which("node") is None:
        missing.append("node on PATH (Debian package nodejs)")
    try:
        packages = sorted(json.loads((root / "package.json").read_text())["dependencies"])
    except (OSError, ValueError, KeyError) as exc:
        return [*missing, f"a readable package.json with dependencies ({exc})"]
    for name in packages:
        if not (root / "node_modules" / name / "package.json").is_file():
            missing.append(f"npm package {name} (run `npm ci` or ./dev install)")
    return missing


def require_js_side() -> None:
    """Fail (under CI) or skip (elsewhere) with what is missing, unless everything is there."""
    if missing := missing_prerequisites():
        message = "JS/Python agreement needs " + "; ".join(missing)
        if UNDER_CI:
            pytest.fail(message, pytrace=False)
        pytest.skip(message)


def run_js(
    tmp_path: Path,
    modules: dict[str, Path],
    run_source: str,
    cases: list[dict[str, Any]],
    timeout: float = 120,
) -> list[dict[str, Any]]:
    """Run every case through ``run_source`` (JS defining ``run(c)``) under node, with each
    module of ``modules`` imported as its key; one result per case."""
    imports = "".join(
        f"import * as {name} from {json.dumps(path.as_uri())};\n" for name, path in modules.items()
    )
    driver = tmp_path / "driver.mjs"
    driver.write_text(imports + _PRELUDE + run_source, encoding="utf-8")
    proc = subprocess.run(
        ["node", str(driver)],
        input=json.dumps(cases),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    results: list[dict[str, Any]] = json.loads(proc.stdout)
    assert len(results) == len(cases)
    return results


def values(results: list[dict[str, Any]]) -> list[Any]:
    """The values of results that must all have succeeded."""
    for r in results:
        assert r["ok"], r.get("error")
    return [r["value"] for r in results]
