"""The pull-request comment body, rendered from jinja2 templates shipped in the package."""

from __future__ import annotations

from jinja2 import Environment, PackageLoader, StrictUndefined

from reconciler.core.models import Plan
from reconciler.render.fmt import money, pct, qty


def environment() -> Environment:
    env = Environment(
        loader=PackageLoader("reconciler.render", "templates"),
        undefined=StrictUndefined,
        autoescape=False,  # markdown, not HTML; symbols and messages are escaped with the md filter
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(money=money, pct=pct, qty=qty, md=_md_escape)
    return env


def _md_escape(value: object) -> str:
    text = str(value)
    for ch in ("\\", "|", "*", "_", "`", "<", ">", "[", "]"):
        text = text.replace(ch, "\\" + ch)
    return text


def render_markdown(plan: Plan) -> str:
    return environment().get_template("plan.md.j2").render(plan=plan)
