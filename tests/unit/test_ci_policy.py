"""The suite's CI policy (tests/conftest.py): under CI a skip is a failure that keeps its reason;
locally it stays a skip. Checked on a throw-away test suite run with the same conftest."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

CONFTEST = Path(__file__).resolve().parents[1] / "conftest.py"
SUITE = """
import pytest

def test_runs():
    assert True

def test_skips():
    pytest.skip("needs the frobnicator")

@pytest.mark.xfail(reason="known bug", strict=True)
def test_expected_failure():
    assert False
"""
SKIPPED_MODULE = """
import pytest
pytest.importorskip("a_module_that_is_not_installed")

def test_never_collected():
    pass
"""


@pytest.mark.parametrize("ci", ["true"])
def test_under_ci_a_skip_fails_with_its_reason(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, ci: str
) -> None:
    monkeypatch.setenv("CI", ci)
    pytester.makeconftest(CONFTEST.read_text())
    pytester.makepyfile(test_suite=SUITE, test_skipped_module=SKIPPED_MODULE)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "test_suite.py")
    result.assert_outcomes(passed=1, failed=1, xfailed=1)
    result.stdout.fnmatch_lines(
        ["*skipped under CI, which must run every test: needs the frobnicator*"]
    )
    # a module skipped at import is a collection error, which stops the run
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(errors=1)
    assert result.ret != 0
    result.stdout.fnmatch_lines(
        ["*skipped under CI*No module named 'a_module_that_is_not_installed'*"]
    )


@pytest.mark.parametrize("ci", [None, "false"])
def test_locally_a_skip_stays_a_skip(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, ci: str | None
) -> None:
    if ci is None:
        monkeypatch.delenv("CI", raising=False)
    else:
        monkeypatch.setenv("CI", ci)
    pytester.makeconftest(CONFTEST.read_text())
    pytester.makepyfile(test_suite=SUITE, test_skipped_module=SKIPPED_MODULE)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, skipped=2, xfailed=1)
