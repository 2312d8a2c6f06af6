"""Small HTML builders for the report and comparison pages: escaped text, tables, one stylesheet.

Pages are self-contained: the style sheet is inline, images are data URIs, and nothing refers
to a network address, so a page opens offline and can be mailed as one file.
"""

from __future__ import annotations

import html
from typing import Any, Iterable

STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;background:#f6f7f9;color:#1d232b}
main{max-width:1180px;margin:0 auto;padding:24px}
h1{font-size:1.6em;margin:0 0 4px} h2{font-size:1.25em;margin:0 0 12px} h3{font-size:1.05em;margin:16px 0 8px}
section{background:#fff;border:1px solid #dde1e6;border-radius:8px;padding:16px 20px;margin:16px 0}
table{border-collapse:collapse;margin:4px 0 8px;font-size:.92em}
th,td{border-bottom:1px solid #e4e7eb;padding:4px 10px;text-align:left;vertical-align:top}
th{background:#f0f2f5} td.num{text-align:right;font-variant-numeric:tabular-nums}
.grid{display:flex;flex-wrap:wrap;gap:12px} .grid figure{margin:0;flex:0 1 calc(50% - 6px)}
img{width:100%;height:auto;border:1px solid #eef0f3}
.muted{color:#5b6470} .warn{background:#fff4e5;border-left:4px solid #d55e00;padding:6px 10px} .verdict{background:#eef7f2;border-left:4px solid #009e73;padding:6px 10px}
pre{background:#f6f7f9;padding:10px;overflow-x:auto;font-size:.85em}
table.heat td{min-width:2.6em;text-align:center;line-height:1.15}
code{background:#f0f2f5;padding:0 3px}
"""


def esc(value: Any) -> str:
    """Text as safe HTML (config values and column names are user data)."""
    return html.escape("" if value is None else str(value))


def page(title: str, body: str) -> str:
    """A whole HTML document with the inline style sheet."""
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{esc(title)}</title><style>{STYLE}</style></head>\n"
            f"<body><main>\n<h1>{esc(title)}</h1>\n{body}\n</main></body></html>\n")


def section(ident: str, title: str, body: str) -> str:
    return f'<section id="{ident}">\n<h2>{esc(title)}</h2>\n{body}\n</section>\n'


def table(header: Iterable[Any], rows: Iterable[Iterable[Any]], numeric_from: int = 1) -> str:
    """A table of escaped cells; cells from column `numeric_from` on are right-aligned."""
    head = "".join(f"<th>{esc(h)}</th>" for h in header)
    head = f"<thead><tr>{head}</tr></thead>" if head else ""  # key-value tables need no header
    body = "".join(
        "<tr>" + "".join(f'<td class="num">{esc(c)}</td>' if i >= numeric_from else f"<td>{esc(c)}</td>"
                         for i, c in enumerate(row)) + "</tr>"
        for row in rows)
    return f"<table>{head}<tbody>{body}</tbody></table>"


def heat_table(matrix: list[list[float]], labels: list, row_title: str, col_title: str) -> str:
    """A confusion matrix as a table: each cell shows the count and its share of the row, shaded
    by that share (white to blue), so the numbers stay readable and searchable."""
    head = "".join(f"<th>{esc(c)}</th>" for c in labels)
    body = []
    for label, row in zip(labels, matrix):
        total = sum(row) or 1
        cells = "".join(_heat_cell(v, v / total) for v in row)
        body.append(f"<tr><th>{esc(label)}</th>{cells}<td class=\"num\">{fmt(sum(row), 0)}</td></tr>")
    return (f'<table class="heat"><thead><tr><th>{esc(row_title)} \\ {esc(col_title)}</th>{head}<th>rows</th></tr>'
            f"</thead><tbody>{''.join(body)}</tbody></table>")


def _heat_cell(count: float, share: float) -> str:
    r, g, b = (round(255 + (c - 255) * share) for c in (0x00, 0x72, 0xB2))  # toward Okabe-Ito blue
    ink = "#fff" if share > 0.5 else "#1d232b"
    return (f'<td class="num" style="background:rgb({r},{g},{b});color:{ink}">'
            f"{fmt(count, 0)}<br><small>{share:.0%}</small></td>")


def figure(uri: str, alt: str, caption: str | None = None) -> str:
    """An inline image; `alt` describes it for screen readers, `caption` is shown below it."""
    text = f"<figcaption class=\"muted\">{esc(caption)}</figcaption>" if caption else ""
    return f'<figure><img src="{uri}" alt="{esc(alt)}">{text}</figure>'


def grid(items: Iterable[str]) -> str:
    return '<div class="grid">' + "".join(items) + "</div>"


def fmt(value: Any, digits: int = 4) -> str:
    """A number for a table cell: floats to `digits` decimals, None as a dash."""
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def metric_cell(entry: dict[str, Any] | None) -> str:
    """`value [low, high]`, or the value alone when there is no interval."""
    if not entry or entry.get("value") is None:
        return "-"
    if entry.get("ci_low") is None:
        return fmt(entry["value"])
    return f"{fmt(entry['value'])} [{fmt(entry['ci_low'])}, {fmt(entry['ci_high'])}]"
