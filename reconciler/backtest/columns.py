"""Side-by-side text tables that fit a width without cutting a figure: strategy names that do not fit become
numbered headers with a legend above, and columns that still do not fit continue in a second block below."""

from __future__ import annotations

WIDTH = 100  # the text table's width, piped or on a terminal
GAP = 2


def layout(corner: str, names: list[str], rows: list[tuple[str, list[str]]], width: int = WIDTH) -> list[str]:
    """Lines of a table with a label column and one right-aligned column per name, within `width` when the
    label column and one figure fit at all (figures and labels are never cut; names may be numbered)."""
    label_w = max([len(corner), *(len(label) for label, _ in rows)])
    cells_w = [max([0, *(len(cells[k]) for _, cells in rows)]) for k in range(len(names))]

    def fits(widths: list[int]) -> bool:
        return label_w + sum(GAP + w for w in widths) <= width

    headers = list(names)
    legend: list[str] = []
    if not fits([max(len(n), c) for n, c in zip(names, cells_w, strict=True)]):
        headers = [f"#{k + 1}" for k in range(len(names))]
        legend = [f"#{k + 1} = {name}" for k, name in enumerate(names)]
    widths = [max(len(h), c) for h, c in zip(headers, cells_w, strict=True)]
    blocks: list[list[int]] = [[]]
    for k, w in enumerate(widths):
        if blocks[-1] and not fits([widths[j] for j in blocks[-1]] + [w]):
            blocks.append([])
        blocks[-1].append(k)
    lines = [*legend, *([""] if legend else [])]
    for b, block in enumerate(blocks):
        if b:
            lines.append("")
        head = corner.ljust(label_w) + "".join(" " * GAP + headers[k].rjust(widths[k]) for k in block)
        lines.append(head.rstrip())
        for label, cells in rows:
            row = label.ljust(label_w) + "".join(" " * GAP + cells[k].rjust(widths[k]) for k in block)
            lines.append(row.rstrip())
    return lines
