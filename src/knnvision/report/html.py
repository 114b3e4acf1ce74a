"""One self-contained HTML page: figures inlined as base64 PNG data URIs, styles inline.

The page references nothing outside itself (no scripts, fonts, style sheets or images from
the network or the disk), so it opens the same offline, attached to an e-mail or archived.
It knows nothing of experiments: the report of each command (``run``, ``tune``,
``evaluate``, a recipe) fills a :class:`ReportPage`.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from html import escape

from .text import count_text

__all__ = ["FigureImage", "ReportPage", "TextTable", "png_data_uri", "render_html"]


@dataclass(frozen=True)
class FigureImage:
    """A rendered figure: its file-style name, heading, caption and PNG bytes."""

    name: str
    title: str
    caption: str
    png: bytes


@dataclass(frozen=True)
class TextTable:
    """A table of text shown as it is: its anchor, heading, column names, rows and a caption
    below it."""

    name: str
    title: str
    header: Sequence[str]
    rows: Sequence[Sequence[str]]
    caption: str = ""


@dataclass
class ReportPage:
    """Everything the page shows, already as text (except the figures and the score table).

    Parameters
    ----------
    title : str
        Page title, e.g. ``"knnvision: digits"``.
    headline : mapping of str to str
        The few numbers shown first, in order (dataset, model, test accuracy, time).
    figures : sequence of FigureImage
        Figures in the order shown.
    classification_report : mapping, optional
        scikit-learn's ``classification_report(..., output_dict=True)``; no score table
        without one (a recipe that predicts no test part, say).
    class_names : sequence of str
        Rows of the classification report, in order (averages follow).
    parameters, versions : mapping of str to str
        Shown as two-column tables.
    commands : mapping of str to str
        How to reproduce the run: a heading (``"Command line"``) to a code block.
    tables : sequence of TextTable
        Tables shown before the figures (the best settings of a search, a recipe's numbers).
    notes : sequence of str
        Paragraphs shown after those tables.
    """

    title: str
    headline: Mapping[str, str]
    figures: Sequence[FigureImage]
    classification_report: Mapping[str, Mapping[str, float] | float] | None = None
    class_names: Sequence[str] = ()
    parameters: Mapping[str, str] = field(default_factory=dict)
    versions: Mapping[str, str] = field(default_factory=dict)
    commands: Mapping[str, str] = field(default_factory=dict)
    tables: Sequence[TextTable] = ()
    notes: Sequence[str] = ()


_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 0;
       color: #1a1a1a; background: #fafafa; line-height: 1.45; }
main { max-width: 1180px; margin: 0 auto; padding: 24px 32px 48px; }
h1 { font-size: 1.7rem; margin: 0 0 16px; }
h2 { font-size: 1.25rem; margin: 36px 0 8px; border-bottom: 1px solid #ddd; padding-bottom: 4px; }
.headline { display: flex; flex-wrap: wrap; gap: 12px; }
.headline div { background: #fff; border: 1px solid #ddd; border-radius: 6px; padding: 10px 16px; }
.headline span { display: block; font-size: 0.8rem; color: #555; text-transform: uppercase;
                 letter-spacing: 0.04em; }
.headline strong { font-size: 1.25rem; }
figure { margin: 0 0 20px; background: #fff; border: 1px solid #ddd; border-radius: 6px;
         padding: 12px; }
figure img { display: block; max-width: 100%; height: auto; margin: 0 auto; }
figcaption { color: #444; font-size: 0.9rem; margin-top: 8px; }
table { border-collapse: collapse; background: #fff; font-size: 0.92rem; }
th, td { border: 1px solid #ddd; padding: 4px 10px; text-align: left; }
td.number, th.number { text-align: right; font-variant-numeric: tabular-nums; }
tr.average td { font-weight: 600; background: #f3f3f3; }
pre { background: #fff; border: 1px solid #ddd; border-radius: 6px; padding: 10px 12px;
      overflow-x: auto; white-space: pre-wrap; word-break: break-all; }
nav { margin-top: 12px; display: flex; flex-wrap: wrap; gap: 4px 14px; }
nav a { white-space: nowrap; }
"""


def render_html(page: ReportPage) -> str:
    """The complete HTML document of ``page`` (UTF-8 text)."""
    body = _body_sections(page)
    sections = [
        _headline(page.headline),
        _contents([(anchor, title) for anchor, title, _ in body]),
        *(_section(anchor, title, html) for anchor, title, html in body),
    ]
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{escape(page.title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n<main>\n"
        f"<h1>{escape(page.title)}</h1>\n" + "\n".join(sections) + "\n</main>\n</body>\n</html>\n"
    )


def png_data_uri(png: bytes) -> str:
    """``data:image/png;base64,...`` for PNG bytes."""
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def _headline(headline: Mapping[str, str]) -> str:
    cells = "".join(
        f"<div><span>{escape(key)}</span><strong>{escape(value)}</strong></div>"
        for key, value in headline.items()
    )
    return f'<section class="headline">{cells}</section>'


def _body_sections(page: ReportPage) -> list[tuple[str, str, str]]:
    """``(anchor, heading, inner HTML)`` of every section after the headline, in page order;
    sections with nothing to show are left out."""
    sections = [(table.name, table.title, _text_table(table)) for table in page.tables]
    notes = "".join(f"<p>{escape(note)}</p>" for note in page.notes)
    if notes and sections:  # notes explain the first table (a recipe's numbers)
        anchor, title, html = sections[0]
        sections[0] = (anchor, title, html + notes)
    elif notes:
        sections.append(("notes", "Notes", notes))
    sections += [(figure.name, figure.title, _figure(figure)) for figure in page.figures]
    if page.classification_report:
        sections.append(
            (
                "scores",
                "Classification report",
                _score_table(page.classification_report, page.class_names),
            )
        )
    for anchor, title, values, render in (
        ("parameters", "Parameters", page.parameters, _key_value_table),
        ("reproduce", "Reproduce these results", page.commands, _commands),
        ("versions", "Software versions", page.versions, _key_value_table),
    ):
        if values:
            sections.append((anchor, title, render(values)))
    return sections


def _contents(links: Sequence[tuple[str, str]]) -> str:
    items = "".join(f'<a href="#{escape(anchor)}">{escape(text)}</a>' for anchor, text in links)
    return f"<nav>{items}</nav>"


def _figure(figure: FigureImage) -> str:
    return (
        f'<figure><img src="{png_data_uri(figure.png)}" alt="{escape(figure.title)}">'
        f"<figcaption>{escape(figure.caption)}</figcaption></figure>"
    )


def _section(anchor: str, title: str, body: str) -> str:
    return f'<section id="{escape(anchor)}">\n<h2>{escape(title)}</h2>\n{body}\n</section>'


def _score_table(report: Mapping, class_names: Sequence[str]) -> str:
    head = (
        '<tr><th>class</th><th class="number">precision</th><th class="number">recall'
        '</th><th class="number">F1</th><th class="number">support</th></tr>'
    )
    rows = [_score_row(name, report[name], "") for name in class_names if name in report]
    rows += [
        _score_row(name, report[name], ' class="average"')
        for name in ("macro avg", "weighted avg")
        if name in report
    ]
    if "accuracy" in report:
        support = sum(int(report[name]["support"]) for name in class_names if name in report)
        rows.append(
            f'<tr class="average"><td>accuracy</td><td></td><td></td>'
            f'<td class="number">{float(report["accuracy"]):.3f}</td>'
            f'<td class="number">{count_text(support)}</td></tr>'
        )
    return f"<table>{head}{''.join(rows)}</table>"


def _score_row(name: str, scores: Mapping[str, float], attributes: str) -> str:
    numbers = "".join(
        f'<td class="number">{float(scores[key]):.3f}</td>'
        for key in ("precision", "recall", "f1-score")
    )
    return (
        f"<tr{attributes}><td>{escape(str(name))}</td>{numbers}"
        f'<td class="number">{count_text(scores["support"])}</td></tr>'
    )


def _text_table(table: TextTable) -> str:
    head = "".join(f"<th>{escape(str(name))}</th>" for name in table.header)
    rows = "".join(
        "<tr>" + "".join(f"<td>{escape(str(cell))}</td>" for cell in row) + "</tr>"
        for row in table.rows
    )
    caption = f"<p>{escape(table.caption)}</p>" if table.caption else ""
    return f"<table><tr>{head}</tr>{rows}</table>{caption}"


def _key_value_table(values: Mapping[str, str]) -> str:
    rows = "".join(
        f"<tr><th>{escape(key)}</th><td>{escape(str(value))}</td></tr>"
        for key, value in values.items()
    )
    return f"<table>{rows}</table>"


def _commands(commands: Mapping[str, str]) -> str:
    return "\n".join(
        f"<p>{escape(heading)}</p><pre><code>{escape(code)}</code></pre>"
        for heading, code in commands.items()
    )
