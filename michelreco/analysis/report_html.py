"""HTML pieces of the report page: escaped text, numbers in words, cards, tables and figures."""

from __future__ import annotations

import html
import re
from collections.abc import Iterable

__all__ = ["esc", "thousands", "ordinal", "percent", "html_cards", "html_table", "html_figure"]

esc = html.escape


def thousands(n: float) -> str:
    """An integer with thousands separators.

    Parameters
    ----------
    n : int or float
        The number (truncated to an integer).

    Returns
    -------
    str
        E.g. ``"12,345"``.
    """
    return f"{int(n):,}"


def ordinal(n: int) -> str:
    """An ordinal number in English.

    Parameters
    ----------
    n : int
        The number.

    Returns
    -------
    str
        2 -> "2nd", 11 -> "11th".
    """
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def percent(num: float, den: float) -> str:
    """A percentage, or a dash when the denominator is 0.

    Parameters
    ----------
    num, den : float
        Numerator and denominator.

    Returns
    -------
    str
        E.g. ``"12.5%"``, one decimal.
    """
    return f"{100.0 * num / den:.1f}%" if den else "–"


def html_cards(items: Iterable[tuple[str, object, str]]) -> str:
    """Big numbers with their meaning underneath.

    Parameters
    ----------
    items : iterable of (id, value, meaning)
        The element id and value (escaped here) and the meaning (HTML) of each card.

    Returns
    -------
    str
        A ``div.cards`` block.
    """
    return '<div class="cards">' + "".join(
        f'<div class="card"><div class="v" id="{esc(id_)}">{esc(v)}</div><div class="k">{k}</div></div>'
        for id_, v, k in items) + "</div>"


_NUMBER = re.compile(r"^[-+–−]?[\d,.]*\d[\d,.]*( ?%| MeV)?$|^$")


def html_table(header: list[str], rows: list[list[str]], caption: str = "", id_: str = "") -> str:
    """An HTML table, cells already HTML: columns of numbers right-aligned, columns of words left-aligned.

    Parameters
    ----------
    header : list of str
        Column titles (HTML); no header row when all are empty.
    rows : list of list of str
        Cells (HTML).
    caption : str
        Caption (HTML), above the table.
    id_ : str
        The table's element id.

    Returns
    -------
    str
        The ``table`` element.
    """
    ncol = len(header)
    left = {k for k in range(ncol) if k == 0 or not all(_NUMBER.match(str(r[k]).strip()) for r in rows if k < len(r))}

    def cells(row: list[str], tag: str) -> str:
        """One row's cells, with tag ``tag`` (left-aligned where the column is not numbers)."""
        return "".join(f'<{tag}{" class=l" if k in left else ""}>{c}</{tag}>' for k, c in enumerate(row))
    cap = f"<caption>{caption}</caption>" if caption else ""
    ident = f' id="{id_}"' if id_ else ""
    head = f"<thead><tr>{cells(header, 'th')}</tr></thead>" if any(header) else ""
    return (f"<table{ident}>{cap}{head}<tbody>"
            + "".join(f"<tr>{cells(r, 'td')}</tr>" for r in rows) + "</tbody></table>")


def html_figure(src: str, alt: str, caption: str, width: int | None = None, link: bool = False) -> str:
    """An image with a caption.

    Parameters
    ----------
    src : str
        The image's file, relative to the page.
    alt : str
        What the picture shows, in words.
    caption : str
        Caption (HTML).
    width : int, optional
        Width attribute (pixels).
    link : bool
        The image opens full size when clicked.

    Returns
    -------
    str
        The ``figure`` element.
    """
    w = f' width="{width}"' if width else ""
    img = f'<img src="{esc(src)}" alt="{esc(alt)}"{w}>'
    if link:
        img = f'<a href="{esc(src)}" title="full size">{img}</a>'
    return f"<figure>{img}<figcaption>{caption}</figcaption></figure>"
