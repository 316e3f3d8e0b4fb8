"""Bad input never gets far: a missing file, a missing date column, a non-numeric cell, an unknown symbol, a
window that does not exist... each is one clear message naming where and how to fix it, exit 1, no
traceback."""

from __future__ import annotations

import json
import subprocess
import sys
from decimal import ROUND_CEILING, Decimal
from pathlib import Path

import pytest

from reconciler.backtest.costs import FillModel
from reconciler.brokers.base import OrderRequest
from reconciler.brokers.paper import PaperBroker
from reconciler.brokers.prices import Price
from reconciler.cli.main import main
from reconciler.core.models import CostModel
from reconciler.core.rules import Commission
from reconciler.journal.store import Journal
from reconciler.workspace.models import PaperBrokerConfig

GOOD = "date,AAA,BBB\n2024-01-02,10,20\n2024-01-03,10.5,19.5\n2024-01-04,11,19\n2024-01-05,10.8,19.2\n"


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    """A workspace with one two-symbol portfolio."""
    (tmp_path / "portfolios").mkdir()
    (tmp_path / "reconciler.yaml").write_text(
        "apiVersion: reconciler.dev/v1\nkind: Config\nbroker:\n  kind: paper\n  accounts: {acct: {cash:"
        " 1000}}\n"
    )
    (tmp_path / "portfolios" / "two.yaml").write_text(
        "apiVersion: reconciler.dev/v1\nkind: Portfolio\nmetadata: {name: two}\n"
        "spec: {account: acct, targets: {AAA: 0.6, BBB: 0.4}}\n"
    )
    return tmp_path


def run(ws: Path, capsys: pytest.CaptureFixture[str], csv: str | None, *argv: str) -> tuple[int, str, str]:
    prices = ws / "prices.csv"
    if csv is not None:
        prices.write_text(csv)
    capsys.readouterr()
    code = main(["-c", str(ws / "reconciler.yaml"), "backtest", "two", "--prices", str(prices), *argv])
    out = capsys.readouterr()
    return code, out.out, out.err


BAD = [
    (None, [], "prices.csv: price file not found"),
    ("day_x,AAA,BBB\n1,2,3\n4,5,6\n", [], "no date column (columns: day_x, AAA, BBB)"),
    (GOOD.replace("19.5", "n/a"), [], "prices.csv:3: not a number: 'n/a' in column 'BBB'"),
    (GOOD.replace("BBB", "CCC"), [], "no price column for BBB"),
    (GOOD, ["--start", "2024-01-05", "--end", "2024-01-03"], "--start 2024-01-05 is after --end 2024-01-03"),
    (GOOD, ["--start", "2025-01-01"], "fewer than two trading days between 2025-01-01 and 2024-01-05"),
    (GOOD.replace("19.5", ""), [], "prices.csv:3: BBB has no price on 2024-01-03"),
    (GOOD.replace("2024-01-04", "2024-01-03"), [], "prices.csv:4: date 2024-01-03 appears twice"),
    (GOOD.replace("2024-01-03", "2024-01-09"), [], "prices.csv:4: date 2024-01-04 comes after 2024-01-09"),
    (GOOD.replace("2024-01-04", "2024-13-04"), [], "prices.csv:4: not a date: '2024-13-04'"),
    (GOOD.replace("10.5", "-10.5"), [], "prices.csv:3: AAA has a price of -10.5 on 2024-01-03"),
    (GOOD, ["--strategy", "sometimes"], "--strategy sometimes: unknown strategy 'sometimes'"),
    (GOOD, ["--strategy", "threshold:abs=2"], "abs=2 is out of range"),
    (GOOD, ["--cash", "lots"], "--cash 'lots' is not a number"),
    (GOOD, ["--start", "2024-02-30"], "--start '2024-02-30' is not a date"),
    (GOOD, ["--override", "max_turnover"], "--override needs --policies"),
    (GOOD, ["--report", "chart.pdf"], "unknown report type '.pdf'"),
    (GOOD.split("\n", 1)[0] + "\n", [], "prices.csv: no rows of prices"),
    (GOOD, ["--report", "/nonexistent-reconciler/x.html"], "the folder does not exist"),
    (GOOD.replace("2024-01-04", "04/01/2024"), [], "prices.csv:4: not a date: '04/01/2024'"),  # D/M or M/D?
    (GOOD.replace("10.5", "inf"), [], "prices.csv:3: AAA has an infinite price on 2024-01-03"),
    (GOOD.replace("date,AAA,BBB", "date,AAA,BBB,AAA").replace("\n2", ",1\n2"), [], "column 'AAA' appears"
     " more"),
    (GOOD.replace("2024-01-04", ""), [], "prices.csv:4: not a date: an empty cell in column 'date'"),
    (GOOD, ["--cash", "1e400"], "--cash 1e400 is out of range"),
    (GOOD, ["--risk-free", "5"], "--risk-free 5 is out of range"),
    (GOOD, ["--tax-short", "135%"], "--tax-short 135% is out of range"),
]


@pytest.mark.parametrize(("csv", "argv", "message"), BAD, ids=[m.split(": ", 1)[-1][:40] for _, _, m in BAD])
def test_bad_input_is_one_clear_error(
    ws: Path, capsys: pytest.CaptureFixture[str], csv: str | None, argv: list[str], message: str
) -> None:
    code, _, err = run(ws, capsys, csv, *argv)
    assert code == 1
    assert message in err, err
    assert "fix:" in err
    assert "Traceback" not in err
    assert "Internal error" not in err


def test_rates_may_be_written_as_percentages(ws: Path, capsys: pytest.CaptureFixture[str]) -> None:
    outputs = []
    for short, long, risk_free in (("0.35", "0.15", "0.02"), ("35%", "15%", "2%")):
        code, out, err = run(ws, capsys, GOOD, "--format", "json", "--tax-short", short, "--tax-long", long,
                             "--risk-free", risk_free)
        assert code == 0, err
        outputs.append(json.loads(out)["strategies"])
    assert outputs[0] == outputs[1]


def test_unknown_portfolio_lists_the_known_ones(ws: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (ws / "prices.csv").write_text(GOOD)
    code = main(["-c", str(ws / "reconciler.yaml"), "backtest", "three", "--prices", str(ws / "prices.csv")])
    assert code == 1
    assert "no portfolio named 'three'" in capsys.readouterr().err


def test_parquet_gives_the_same_backtest_as_csv(ws: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pd = pytest.importorskip("pandas")
    pytest.importorskip("pyarrow")
    code, from_csv, err = run(ws, capsys, GOOD, "--format", "json")
    assert code == 0, err
    pd.read_csv(ws / "prices.csv", parse_dates=["date"]).to_parquet(ws / "prices.parquet")
    capsys.readouterr()
    code = main(["-c", str(ws / "reconciler.yaml"), "backtest", "two", "--prices", str(ws / "prices.parquet"),
                 "--format", "json"])
    from_parquet = capsys.readouterr().out
    assert code == 0
    a, b = json.loads(from_csv), json.loads(from_parquet)
    assert [s["metrics"] for s in a["strategies"]] == [s["metrics"] for s in b["strategies"]]
    # Dates as the frame's index, unnamed (how pandas often writes a series of closes): the same backtest.
    frame = pd.read_csv(ws / "prices.csv", parse_dates=["date"]).set_index("date")
    frame.index.name = None
    frame.to_parquet(ws / "indexed.parquet")
    capsys.readouterr()
    code = main(
        [
            "-c",
            str(ws / "reconciler.yaml"),
            "backtest",
            "two",
            "--prices",
            str(ws / "indexed.parquet"),
            "--format",
            "json",
        ]
    )
    out = capsys.readouterr()
    assert code == 0, out.err
    assert [s["metrics"] for s in json.loads(out.out)["strategies"]] == [
        s["metrics"] for s in a["strategies"]
    ]


def test_without_the_backtest_extra_the_command_says_what_to_install(ws: Path) -> None:
    (ws / "prices.csv").write_text(GOOD)
    code = (
        "import sys; sys.modules['pandas'] = None\n"  # as if pandas were not installed
        "from reconciler.cli.main import main\n"
        f"sys.exit(main(['-c', {str(ws / 'reconciler.yaml')!r}, 'backtest', 'two', '--prices', "
        f"{str(ws / 'prices.csv')!r}]))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert "pip install 'reconciler[backtest]'" in done.stderr
    assert "Traceback" not in done.stderr


def test_fills_are_the_paper_brokers_fills(tmp_path: Path) -> None:
    """The backtest fills like the paper broker: the same price and commission, before the broker's rounding
    to a $0.0001 tick and a cent (adjusted closes are not tradable prices, so the backtest does not round)."""
    journal = Journal.open(f"sqlite:///{tmp_path / 'j.db'}")
    spec = PaperBrokerConfig.model_validate(
        {"kind": "paper", "slippage_bps": 10, "settlement_days": 0,
         "commission": {"per_order": 1, "per_share": "0.01", "bps": 5},
         "accounts": {"acct": {"cash": 100000, "positions": {"ABC": 100}}}}
    )
    prices = {"ABC": Price(Decimal("100"), None), "XYZ": Price(Decimal("37.13"), None)}
    broker = PaperBroker(journal.engine, spec, tmp_path, prices=prices)
    fills = FillModel(
        CostModel(slippage_bps=spec.slippage_bps, commission=Commission(**spec.commission.model_dump()))
    )
    for n, (symbol, side, qty) in enumerate([("ABC", "sell", 4), ("XYZ", "buy", 17), ("ABC", "buy", 3)]):
        state = broker.submit("acct", OrderRequest(client_order_id=f"o{n}", symbol=symbol, side=side,
                                                   quantity=Decimal(qty)))
        assert state.status == "filled"
        filled = fills.fill(side, Decimal(qty), prices[symbol].price)  # type: ignore[arg-type]
        assert filled is not None
        price, commission = filled
        assert state.avg_price == price.quantize(Decimal("0.0001"))
        # charged up to the cent
        assert state.commission == commission.quantize(Decimal("0.01"), ROUND_CEILING)
