"""reconciler: infrastructure-as-code for investment portfolios."""

__version__ = "0.1.0"
