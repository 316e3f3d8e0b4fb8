"""JSON Schemas of the YAML files, generated from the pydantic models, for editors (yaml-language-server)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Union

from pydantic import Field, TypeAdapter, create_model

from reconciler import files
from reconciler.workspace import plugins
from reconciler.workspace.models import ConfigDoc, ModelDoc, PortfolioDoc

DRAFT = "https://json-schema.org/draft/2020-12/schema"


def portfolio_schema() -> dict[str, Any]:
    """Schema of a file in portfolios/: a `kind: Portfolio` or a `kind: Model` document."""
    adapter: TypeAdapter[Any] = TypeAdapter(Annotated[PortfolioDoc | ModelDoc, Field(discriminator="kind")])
    schema = _closed(adapter.json_schema(mode="validation"))
    return {
        "$schema": DRAFT,
        "title": "reconciler portfolio file (kind: Portfolio or Model)",
        "description": "Targets of one account (Portfolio) or shared by several (Model). Weights and cash"
        " must sum to exactly 1, which `reconciler validate` checks.",
        **schema,
    }


def config_schema() -> dict[str, Any]:
    """Schema of reconciler.yaml (`kind: Config`), `broker:` one of the shipped kinds (a plug-in's own package
    documents its section)."""
    # The kinds reconciler itself registers: the published schema is the same whatever else is installed.
    models = tuple(
        plugins.load_kind(kind, "the configuration schema").config for kind in plugins.shipped_kinds()
    )
    broker: Any = Annotated[Union[models], Field(discriminator="kind")]  # noqa: UP007 - a union of a tuple
    config = create_model("ConfigDoc", __base__=ConfigDoc, broker=(broker, ...))
    schema = _closed(config.model_json_schema())
    return {"$schema": DRAFT, "title": "reconciler configuration (reconciler.yaml)", **schema}


def _closed(node: Any) -> Any:
    """Symbol maps accept only keys matching the symbol pattern, so editors flag `vti:` as they flag a
    typo."""
    if isinstance(node, dict):
        out = {k: _closed(v) for k, v in node.items()}
        if "patternProperties" in out and "additionalProperties" not in out:
            out["additionalProperties"] = False
        return out
    if isinstance(node, list):
        return [_closed(v) for v in node]
    return node


SCHEMAS = {"portfolio.schema.json": portfolio_schema, "config.schema.json": config_schema}


def write_schemas(folder: Path) -> list[Path]:
    """Write every published schema into `folder` (what `make schema` runs)."""
    written = []
    for name, make in SCHEMAS.items():
        path = folder / name
        files.write_text(path, json.dumps(make(), indent=2) + "\n", files.SCHEMA, "make schema")
        written.append(path)
    return written
