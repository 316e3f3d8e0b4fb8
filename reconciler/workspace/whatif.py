"""`what_if` in reconciler.yaml: where the plan comment's what-if section takes its prices, window and
rule."""

from __future__ import annotations

import ntpath
import posixpath
from datetime import date
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import Field, model_validator

from reconciler.core.rules import Fraction, Strict

DatasetName = Literal["sp500", "sp500-index", "factor-etfs"]  # backtest.data.DATASETS (bundled in skfolio)


class WhatIf(Strict):
    """The what-if section of a pull request's plan comment: the old and new targets backtested side by side
    (docs/backtest.md). Read from the trusted checkout only: a pull request's own `what_if` is never used."""

    prices: str | None = Field(
        None, description="A CSV or Parquet file of closes in the repository, relative to reconciler.yaml."
    )
    dataset: DatasetName | None = Field(None, description="Or a price history bundled in the skfolio wheel.")
    strategy: str = Field(
        "threshold", description="The rule both sides run under, as `backtest --strategy` takes it; default"
        " the planner's own: look every day, trade what is beyond the portfolio's bands.",
    )
    years: Annotated[int, Field(ge=1, le=50)] = Field(10, description="The window: these many years to"
                                                      " `end`.")
    end: date | None = Field(None, description="The window's last day (YYYY-MM-DD); default the prices'.")
    cash: Annotated[Decimal, Field(gt=0, le=Decimal(10**12), allow_inf_nan=False)] = Decimal(100000)
    lots: Literal["fifo", "hifo"] = "fifo"
    tax_short: Fraction = Decimal(0)
    tax_long: Fraction = Decimal(0)
    max_portfolios: Annotated[int, Field(ge=1, le=50)] = Field(
        5, description="Backtest at most this many changed portfolios (each ~1-2 s); the others are listed."
    )

    @model_validator(mode="after")
    def _one_source(self) -> WhatIf:
        if self.prices is not None and self.dataset is not None:
            raise ValueError("give either prices: FILE or dataset: NAME, not both")
        if self.prices is not None and (
            not self.prices.strip() or posixpath.isabs(self.prices.replace("\\", "/"))
            or ntpath.isabs(self.prices)
        ):
            raise ValueError(f"what_if.prices {self.prices!r} must be a file in the repository, relative to"
                             " reconciler.yaml (e.g. data/closes.csv)")
        return self

    @property
    def configured(self) -> bool:
        """Whether a price source is set: without one the plan comment has no what-if section."""
        return self.prices is not None or self.dataset is not None
