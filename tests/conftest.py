"""Suite-wide settings.

Under CI (``CI`` set in the environment, and not ``0``/``false``):

* Hypothesis runs derandomized, so a landing is judged on the same examples every time; locally it
  explores with fresh random examples on each run;
* nothing skips: a test or a module that skips (a missing tool, package or data file) is reported
  as a failure carrying the skip's reason, since a green CI must mean every test ran. Locally a
  skip stays a skip.
"""

from __future__ import annotations

import os
from collections.abc import Generator
from typing import Any

import pytest
from hypothesis import settings

UNDER_CI = os.environ.get("CI", "").lower() not in ("", "0", "false")

settings.register_profile("ci", derandomize=True, print_blob=True)
settings.register_profile("dev", print_blob=True)
settings.load_profile("ci" if UNDER_CI else "dev")


def _skip_reason(longrepr: Any) -> str:
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return str(longrepr[2]).removeprefix("Skipped: ")
    return str(longrepr)


def _fail_skip_under_ci(report: pytest.TestReport | pytest.CollectReport) -> None:
    if UNDER_CI and report.skipped and not hasattr(report, "wasxfail"):
        reason = _skip_reason(report.longrepr)
        report.outcome = "failed"
        report.longrepr = f"skipped under CI, which must run every test: {reason}"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[Any]:
    outcome = yield
    _fail_skip_under_ci(outcome.get_result())


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector: pytest.Collector) -> Generator[Any]:
    outcome = yield
    _fail_skip_under_ci(outcome.get_result())
