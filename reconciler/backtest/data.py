"""Price history in: a CSV or Parquet file (a date column, one column of adjusted closes per symbol) or a
dataset shipped by a pip-installable package. Every problem names the file, the line or date, the column and
the fix."""

from __future__ import annotations

import gzip
import importlib.util
import io
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from reconciler import files
from reconciler.errors import BacktestError

if TYPE_CHECKING:
    import pandas as pd

BACKTEST_PRICES = files.Kind(
    "price file", files.PRICES.max_bytes,
    "give --prices a CSV or Parquet file: a date column and one column of"
    " adjusted closes per symbol", BacktestError,
)
MAX_PRICE = 1e12  # float64 holds cents exactly up to ~1e13; the books multiply prices by quantities
DATE_COLUMNS = ("date", "datetime", "timestamp", "time", "day")
# Datasets that ship inside the `skfolio` wheel (BSD-3): the README's example runs on them without ../shared/.
# Read as files from the installed package, never imported: skfolio's own dependencies (scikit-learn, SciPy,
# cvxpy: some 800 MB) are not needed to read a CSV, so `make backtest` installs the wheel alone (--no-deps).
DATASETS = {
    "sp500": ("sp500_dataset.csv.gz", "daily adjusted closes of 20 S&P 500 stocks, 1990-2022"),
    "sp500-index": ("sp500_index.csv.gz", "the S&P 500 index level, 1990-2022"),
    "factor-etfs": ("factors_dataset.csv.gz", "daily adjusted closes of five iShares factor ETFs, 2014-2022"),
}


@dataclass(frozen=True)
class PriceTable:
    """Daily closes: dates ascending and unique, one float column per symbol (floats stop at the kernels)."""

    dates: np.ndarray[Any, np.dtype[np.datetime64]]
    symbols: tuple[str, ...]
    closes: np.ndarray[Any, np.dtype[np.float64]]
    source: str
    # the source line of each row (CSV), for messages
    lines: np.ndarray[Any, np.dtype[np.int64]] | None = None

    def _where(self, row: int) -> str:
        if self.lines is not None:
            return f"{self.source}:{int(self.lines[row])}"
        return f"{self.source} (row dated {self.day(row)})"

    def day(self, row: int) -> date:
        """A row's date, as the engine's events and the report name days."""
        return date.fromisoformat(str(self.dates[row]))

    def select(self, symbols: list[str], start: date | None = None, end: date | None = None) -> PriceTable:
        """The columns of `symbols` between start and end (inclusive), checked: present, numeric, positive."""
        missing = [s for s in symbols if s not in self.symbols]
        if missing:
            shown = ", ".join(self.symbols[:25]) + (", ..." if len(self.symbols) > 25 else "")
            raise BacktestError(
                f"no price column for {', '.join(missing)}",
                where=self.source,
                fix=f"add a column per portfolio symbol, or backtest a portfolio of these symbols: {shown}",
            )
        if start is not None and end is not None and start > end:
            raise BacktestError(
                f"--start {start} is after --end {end}", where=self.source, fix="give a start before the end"
            )
        first, last = self.day(0), self.day(len(self.dates) - 1)
        lo = 0 if start is None else int(np.searchsorted(self.dates, np.datetime64(start, "D"), side="left"))
        hi = (
            len(self.dates)
            if end is None
            else int(np.searchsorted(self.dates, np.datetime64(end, "D"), "right"))
        )
        if hi - lo < 2:
            raise BacktestError(
                f"fewer than two trading days between {start or first} and {end or last}",
                where=self.source,
                fix=f"choose --start/--end inside the prices' range, {first} to {last}",
            )
        cols = [self.symbols.index(s) for s in symbols]
        closes = np.ascontiguousarray(self.closes[lo:hi][:, cols], dtype=np.float64)
        for j, s in enumerate(symbols):
            col = closes[:, j]
            bad = np.flatnonzero(np.isinf(col))
            if bad.size:
                row = lo + int(bad[0])
                raise BacktestError(
                    f"{s} has an infinite price on {self.day(row)}", where=self._where(row),
                    fix="prices must be plain, finite numbers",
                )
            bad = np.flatnonzero(~np.isfinite(col))
            if bad.size:
                row = lo + int(bad[0])
                later = self._first_complete(cols, lo, hi)
                hint = f" (every portfolio symbol has a price from {later})" if later else ""
                raise BacktestError(
                    f"{s} has no price on {self.day(row)}",
                    where=self._where(row),
                    fix=f"fill the gap in the file, or start the backtest later with --start{hint}",
                )
            bad = np.flatnonzero(col > MAX_PRICE)
            if bad.size:
                row = lo + int(bad[0])
                raise BacktestError(
                    f"{s} has a price of {col[bad[0]]:g} on {self.day(row)}, beyond what can be valued"
                    " exactly",
                    where=self._where(row),
                    fix=f"prices must be below {MAX_PRICE:g}; check the column's units",
                )
            bad = np.flatnonzero(col <= 0)
            if bad.size:
                row = lo + int(bad[0])
                raise BacktestError(
                    f"{s} has a price of {col[bad[0]]} on {self.day(row)}",
                    where=self._where(row),
                    fix="prices must be positive adjusted closes",
                )
        lines = None if self.lines is None else self.lines[lo:hi]
        return PriceTable(self.dates[lo:hi], tuple(symbols), closes, self.source, lines)

    def _first_complete(self, cols: list[int], lo: int, hi: int) -> date | None:
        ok = np.isfinite(self.closes[lo:hi][:, cols]).all(axis=1)
        rows = np.flatnonzero(ok)
        return self.day(lo + int(rows[0])) if rows.size and rows[0] > 0 else None


def load_prices(path: Path, *, workspace: Path | None = None) -> PriceTable:
    """Read a CSV (.csv, .csv.gz) or Parquet (.parquet, .pq) file of daily closes; inside `workspace` when
    given (a file reconciler.yaml names, like the what-if's prices)."""
    import pandas as pd

    where = str(path)
    name = path.name.lower()
    if not name.endswith((".parquet", ".pq", ".csv", ".csv.gz", ".txt")):
        raise BacktestError(f"unknown price file type {path.suffix!r}", where=where, fix="use a .csv or"
                            " .parquet file")
    # Named on the command line (--prices), it may be anywhere; the gate still takes a regular file only.
    data = io.BytesIO(files.read_bytes(path, BACKTEST_PRICES, workspace=workspace))
    try:
        if name.endswith(".gz"):  # decompressed under the same cap: a few KB of gzip can expand to terabytes
            with gzip.GzipFile(fileobj=data) as unzipped:
                data = io.BytesIO(unzipped.read(BACKTEST_PRICES.max_bytes + 1))
            if len(data.getbuffer()) > BACKTEST_PRICES.max_bytes:
                raise BacktestError(
                    f"decompressed price file is above the {BACKTEST_PRICES.max_bytes:,}-byte limit",
                    where=where,
                    fix="split the history, or keep fewer symbols",
                )
        if name.endswith((".parquet", ".pq")):
            frame = pd.read_parquet(data)
            first_line = None
        else:
            # Only an empty cell means "no price": n/a, NaN or null are typos to report, not gaps to guess at.
            frame = pd.read_csv(
                data, skipinitialspace=True, keep_default_na=False, na_values=[""],
            )
            first_line = 2  # line 1 is the header
    except BacktestError:
        raise
    # pandas/pyarrow parse errors are ValueErrors
    except (OSError, EOFError, ValueError, UnicodeDecodeError) as exc:
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise BacktestError(
            f"cannot read the price file: {message}", where=where,
            fix="write a CSV or Parquet table of closes"
        ) from None
    except ImportError as exc:
        raise BacktestError(
            f"reading Parquet needs pyarrow ({exc})", where=where, fix="pip install 'reconciler[parquet]'"
        ) from None
    return from_frame(frame, where, first_line)


def load_dataset(name: str) -> PriceTable:
    """A price history shipped inside the `skfolio` wheel, read from its files (no import, no network)."""
    if name not in DATASETS:
        raise BacktestError(
            f"unknown dataset {name!r}",
            where="--dataset",
            fix="use one of: " + "; ".join(f"{k} ({v[1]})" for k, v in DATASETS.items()),
        )
    spec = importlib.util.find_spec("skfolio")  # finds the package without running its __init__
    folders = list(spec.submodule_search_locations or []) if spec is not None else []
    path = next((Path(f) / "datasets" / "data" / DATASETS[name][0] for f in folders), None)
    if path is None or not path.is_file():
        raise BacktestError(
            "the bundled datasets need the skfolio package's data files",
            where="--dataset",
            fix="make backtest (or pip install --no-deps skfolio), or give --prices FILE",
        )
    return replace(load_prices(path), source=f"dataset {name} (skfolio)")


def from_frame(frame: pd.DataFrame, where: str, first_line: int | None) -> PriceTable:
    """Validate a table with a date column (or a date index) and numeric symbol columns."""
    import pandas as pd

    if isinstance(frame.index, pd.DatetimeIndex):  # a Parquet file's date index, named or not
        frame = frame.reset_index(names=frame.index.name or "date")
    cols = [str(c) for c in frame.columns]
    # pandas renames a repeated CSV header (MTUM, MTUM.1): two columns of one symbol are an error, not two
    # symbols.
    repeated = [c for c in cols if "." in c and c.rsplit(".", 1)[1].isdigit() and c.rsplit(".", 1)[0] in cols]
    if repeated:
        symbol = repeated[0].rsplit(".", 1)[0]
        raise BacktestError(
            f"column {symbol!r} appears more than once", where=where,
            fix="keep one column of closes per symbol"
        )
    date_col = next((c for c in cols if c.strip().lower() in DATE_COLUMNS), None)
    if date_col is None:
        raise BacktestError(
            f"no date column (columns: {', '.join(cols[:8])}{', ...' if len(cols) > 8 else ''})",
            where=where,
            fix="name the column of dates 'date' (YYYY-MM-DD); the other columns are symbols",
        )
    frame.columns = pd.Index(cols)
    if len(frame) == 0:
        raise BacktestError("no rows of prices", where=where, fix="add one row per trading day under the"
                            " header")
    raw = frame[date_col]
    if pd.api.types.is_integer_dtype(raw):  # 19900102 or 199001
        text = raw.astype(str)
        parsed = pd.to_datetime(
            text, format="%Y%m%d" if text.str.len().max() == 8 else "%Y%m", errors="coerce"
        )
    elif pd.api.types.is_datetime64_any_dtype(raw):
        parsed = raw.dt.tz_localize(None) if getattr(raw.dt, "tz", None) is not None else raw
    else:
        # YYYY-MM-DD only: 03/02/2014 is 3 February in one country and 2 March in another, and a guess
        # silently reorders a history. A time after the date is ignored: a daily close is dated as written,
        # in the exchange's own calendar, whatever time zone the time of day is in.
        text = raw.astype(str).str.strip()
        iso = text.str.fullmatch(r"\d{4}-\d{2}-\d{2}(?:[T ].*)?")
        parsed = pd.to_datetime(text.str.slice(0, 10).where(iso), format="%Y-%m-%d", errors="coerce")
    lines = np.arange(len(frame), dtype=np.int64) + (first_line or 0)
    bad = np.flatnonzero(parsed.isna().to_numpy())
    if bad.size:
        i = int(bad[0])
        at = f"{where}:{lines[i]}" if first_line else f"{where} (row {i + 1})"
        shown = "an empty cell" if pd.isna(raw.iloc[i]) else repr(raw.iloc[i])
        raise BacktestError(
            f"not a date: {shown} in column {date_col!r}", where=at, fix="write dates as YYYY-MM-DD"
        )
    symbols = [c for c in cols if c != date_col]
    if not symbols:
        raise BacktestError("no symbol columns", where=where, fix="add one column of closes per symbol")
    values = np.empty((len(frame), len(symbols)), dtype=np.float64)
    for j, s in enumerate(symbols):
        col = frame[s]
        if not pd.api.types.is_numeric_dtype(col) or pd.api.types.is_bool_dtype(col):
            numeric = pd.to_numeric(col, errors="coerce")
            wrong = np.flatnonzero((numeric.isna() & col.notna()).to_numpy())
            if wrong.size or pd.api.types.is_bool_dtype(col):
                i = int(wrong[0]) if wrong.size else 0
                at = f"{where}:{lines[i]}" if first_line else f"{where} (row {i + 1})"
                raise BacktestError(
                    f"not a number: {col.iloc[i]!r} in column {s!r}",
                    where=at,
                    fix="prices must be plain numbers (leave a cell empty where there is no price)",
                )
            col = numeric
        values[:, j] = col.to_numpy(dtype=np.float64, na_value=np.nan)
    days = parsed.to_numpy().astype("datetime64[D]")
    # Out of order is refused, not sorted: a history pasted in the wrong order is a history nobody checked.
    back = np.flatnonzero(days[1:] < days[:-1])
    if back.size:
        i = int(back[0]) + 1
        at = f"{where}:{lines[i]}" if first_line else f"{where} (row dated {days[i]})"
        raise BacktestError(
            f"date {days[i]} comes after {days[i - 1]}: dates must be in increasing order", where=at,
            fix="sort the rows by date, oldest first",
        )
    dup = np.flatnonzero(days[1:] == days[:-1])
    if dup.size:
        i = int(dup[0]) + 1
        at = f"{where}:{lines[i]}" if first_line else f"{where} (row dated {days[i]})"
        raise BacktestError(
            f"date {days[i]} appears twice", where=at,
            fix="keep one row per trading day (one close per symbol)"
        )
    return PriceTable(
        days, tuple(symbols), np.ascontiguousarray(values), where, lines if first_line else None
    )
