"""`reconciler backtest` on a portfolio with a `tax:` block takes its lot method and rates from the block, as
`plan` does: a tax flag that disagrees is refused (naming the file, the field and the fix, a non-zero exit,
no traceback) unless --tax-what-if lets it replace the block's value for the run, which the output says.
Without a block the flags work as before."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from reconciler.cli.main import main
from tests.backtest.conftest import write_prices, write_workspace

# Two years of weekdays: A climbs from 100 to 300, B stands still; a quarterly rebalance sells A at a gain
# every quarter, short-term the first year and partly long-term the second.
DAYS = [d for d in (date(2021, 1, 4) + timedelta(days=k) for k in range(730)) if d.weekday() < 5]
BLOCK = "{lots: hifo, rates: {short_term: 0.35, long_term: 0.15}}"


def _workspace(folder: Path, tax: str = BLOCK) -> tuple[Path, Path]:
    """The workspace (portfolio `p`, half A half B, the given tax: block) and its prices."""
    config = write_workspace(folder, {"A": "0.5", "B": "0.5"}, fractional=True, tax=tax)
    n = len(DAYS)
    prices = write_prices(folder / "prices.csv", [d.isoformat() for d in DAYS], {
        "A": [100 + 200 * k / (n - 1) for k in range(n)], "B": [50.0] * n,
    })
    return config, prices


def _json(capsys: pytest.CaptureFixture[str], config: Path, prices: Path, *flags: str) -> dict[str, Any]:
    capsys.readouterr()
    code = main(["-c", str(config), "--no-color", "backtest", "p", "--prices", str(prices),
                 "--strategy", "calendar:quarterly", "--no-progress", "--format", "json", *flags])
    out = capsys.readouterr()
    assert code == 0, out.err
    doc: dict[str, Any] = json.loads(out.out)
    return doc


@pytest.fixture
def taxed(tmp_path: Path) -> tuple[Path, Path]:
    return _workspace(tmp_path / "taxed")


def test_the_block_sets_the_lot_method_and_rates(
    taxed: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    taxes = _json(capsys, *taxed)["taxes"]
    assert (taxes["lots"], taxes["short_rate"], taxes["long_rate"]) == ("hifo", 0.35, 0.15)


def test_the_output_says_the_taxes_come_from_the_portfolio_file(
    taxed: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    source = _json(capsys, *taxed)["taxes"]["source"]
    assert source.startswith("from ") and source.endswith("p.yaml: spec.tax")


def test_the_block_s_rates_are_charged(taxed: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    assert _json(capsys, *taxed)["strategies"][0]["metrics"]["taxes_paid"] > 0


def test_flags_that_agree_with_the_block_change_nothing(
    taxed: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    plain = _json(capsys, *taxed)
    agreeing = _json(capsys, *taxed, "--lots", "hifo", "--tax-short", "35%", "--tax-long", "0.150")
    assert agreeing == plain


REFUSED = [
    (("--lots", "fifo"), "tax.lots"),
    (("--tax-short", "0.3"), "tax.rates.short_term"),
    (("--tax-long", "0"), "tax.rates.long_term"),
]


@dataclass(frozen=True)
class _Refused:
    flag: tuple[str, str]
    field: str
    portfolio: Path
    done: subprocess.CompletedProcess[str]


@pytest.fixture(scope="module", params=REFUSED, ids=[f[0][0] for f in REFUSED])
def refused(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> _Refused:
    """The real command in its own process, with a flag that disagrees with the portfolio's block."""
    flag, field = request.param
    config, prices = _workspace(tmp_path_factory.mktemp("refused"))
    done = subprocess.run(
        [sys.executable, "-m", "reconciler.cli.main", "-c", str(config), "--no-color", "backtest", "p",
         "--prices", str(prices), "--no-progress", *flag],
        capture_output=True, text=True, timeout=120,
    )
    return _Refused(flag, field, config.parent / "portfolios" / "p.yaml", done)


def test_a_refused_flag_exits_non_zero(refused: _Refused) -> None:
    assert refused.done.returncode != 0


def test_a_refused_flag_prints_no_traceback_and_no_report(refused: _Refused) -> None:
    assert ("Traceback" in refused.done.stderr, refused.done.stdout) == (False, "")


def test_the_refusal_names_the_flag_and_the_field(refused: _Refused) -> None:
    flag, value = refused.flag
    assert f"{flag} {value} disagrees with the portfolio's {refused.field}" in refused.done.stderr


def test_the_refusal_names_the_portfolio_file(refused: _Refused) -> None:
    assert f"{refused.portfolio}: spec.{refused.field}" in refused.done.stderr


def test_the_refusal_says_the_fix(refused: _Refused) -> None:
    flag, value = refused.flag
    fix = f"drop {flag} (or set {refused.field} to {value} in {refused.portfolio}); to try {value} without"
    assert fix in " ".join(refused.done.stderr.split())


def test_tax_what_if_runs_the_flag_s_value_and_says_so(
    taxed: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    taxes = _json(capsys, *taxed, "--lots", "fifo", "--tax-what-if")["taxes"]
    said = taxes["source"].split(", with ")[1]
    assert (taxes["lots"], said) == ("fifo", "--tax-what-if: tax.lots fifo instead of hifo")


def test_tax_what_if_is_said_in_the_text_header(
    taxed: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    config, prices = taxed
    capsys.readouterr()
    code = main(["-c", str(config), "--no-color", "backtest", "p", "--prices", str(prices), "--no-progress",
                 "--strategy", "never", "--tax-short", "0", "--tax-what-if"])
    out = capsys.readouterr().out
    assert (code, "--tax-what-if: tax.rates.short_term 0 instead of 0.35" in out) == (0, True), out


def test_tax_what_if_runs_as_the_portfolio_would_with_that_block(
    taxed: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The flag's value replaces the block's for the planner and the tax book alike: the run is the one of a
    portfolio whose file says it."""
    what_if = _json(capsys, *taxed, "--lots", "fifo", "--tax-long", "0.2", "--tax-what-if")
    written = _json(capsys, *_workspace(tmp_path / "fifo", "{lots: fifo, rates: {short_term: 0.35,"
                                        " long_term: 0.2}}"))
    assert what_if["strategies"] == written["strategies"]


def test_without_a_block_the_flags_set_the_taxes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    taxes = _json(capsys, *_workspace(tmp_path / "plain", tax=""), "--lots", "hifo", "--tax-short", "0.3")[
        "taxes"]
    assert taxes == {"lots": "hifo", "short_rate": 0.3, "long_rate": 0.0}


def test_every_disagreeing_flag_is_named_at_once(
    taxed: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    config, prices = taxed
    capsys.readouterr()
    code = main(["-c", str(config), "--no-color", "backtest", "p", "--prices", str(prices), "--no-progress",
                 "--lots", "fifo", "--tax-long", "0.2"])
    err = " ".join(capsys.readouterr().err.split())
    fix = "drop --lots, --tax-long (or set tax.lots to fifo, tax.rates.long_term to 0.2 in"
    assert (code, fix in err) == (1, True), err


def test_a_sweep_says_where_its_taxes_come_from(
    taxed: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    config, prices = taxed
    capsys.readouterr()
    code = main(["-c", str(config), "--no-color", "backtest", "p", "--prices", str(prices), "--jobs", "1",
                 "--sweep", "calendar:{quarterly|annual}", "--lots", "fifo", "--tax-what-if"])
    out = capsys.readouterr().out
    said = "Taxes: FIFO lots, from" in out and "tax.lots fifo instead of hifo" in out
    assert (code, said) == (0, True), out
