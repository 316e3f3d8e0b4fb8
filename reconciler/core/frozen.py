"""The base of the core's pydantic models."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Frozen(BaseModel):
    """The base of the core's models: immutable, and unknown fields refused."""

    model_config = ConfigDict(extra="forbid", frozen=True)
