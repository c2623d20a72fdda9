"""plotly for the interactive displays: its modules (or a clear error), plotly.js, and a figure as a page."""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType
from typing import TYPE_CHECKING, Any

from michelreco.errors import MichelrecoError

if TYPE_CHECKING:
    import plotly.graph_objects

__all__ = ["plotly_modules", "plotly_js", "plotly_page"]


def plotly_modules() -> tuple[ModuleType, Callable[..., Any]]:
    """plotly's ``graph_objects`` and ``make_subplots``, or a clear error when plotly is missing.

    Returns
    -------
    (module, function)
        ``plotly.graph_objects`` and ``plotly.subplots.make_subplots``.

    Raises
    ------
    MichelrecoError
        plotly is not installed.
    """
    try:
        import plotly.graph_objects as go
        from plotly.subplots import make_subplots
    except ImportError:
        raise MichelrecoError("the HTML display needs plotly: pip install 'michelreco[plot]'") from None
    return go, make_subplots


def plotly_js() -> bytes:
    """plotly.js (minified) of the installed plotly, to write once beside pages that load it.

    Returns
    -------
    bytes
        The script, UTF-8.

    Raises
    ------
    MichelrecoError
        plotly is not installed.
    """
    plotly_modules()
    from plotly.offline import get_plotlyjs

    return get_plotlyjs().encode()


def plotly_page(fig: plotly.graph_objects.Figure, plotlyjs: str) -> bytes:
    """A plotly figure as a whole HTML page.

    Parameters
    ----------
    fig : plotly.graph_objects.Figure
        The figure.
    plotlyjs : {"inline", "directory"}
        plotly.js inside the page, or loaded from ``plotly.min.js`` beside it (``plotly_js``).

    Returns
    -------
    bytes
        The page, UTF-8.
    """
    include = True if plotlyjs == "inline" else "directory"
    return fig.to_html(include_plotlyjs=include, full_html=True, config={"displaylogo": False}).encode()
