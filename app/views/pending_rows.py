"""The space of a grid's rows that are not drawn yet, asking for them as they scroll near.

A page with many plots is on screen sooner when only the plots in view are drawn first:
a browser builds, lays out and paints every model it is sent, seen or not. A grid sends
its first rows and puts :class:`PendingRows` below them, as tall as the rows still to
come (so the page's scroll bar shows the whole grid). When that space comes within half
a screen of the page's view, the browser sets :attr:`PendingRows.requested` to the
number of rows that would fill it; the grid draws them and sets :attr:`PendingRows.shown`
and the remaining height, and the browser looks again (a grid taller than a screen, or a
jump to the end, asks again at once). Meanwhile, whenever the browser is idle, it asks for
one row more: the rest of the grid fills in while the first screen is read, a row at a
time so that the page stays responsive.
"""

from __future__ import annotations

import param
from panel.reactive import ReactiveHTML

__all__ = ["PendingRows"]

#: How far below the browser's view a pending row is asked for (CSS ``rootMargin``).
LOOK_AHEAD = "0px 0px 50% 0px"

#: When the browser has nothing else to do, one more row (the page then scrolls into
#: plots already drawn); a fresh observation reports the space's current intersection.
_NEXT = """
if (state.observer != null) {
  state.observer.unobserve(space)
  state.observer.observe(space)
  if (state.idle == null && data.pending > 0 && data.requested <= data.shown) {
    state.idle = requestIdleCallback(() => {
      state.idle = null
      if (data.pending > 0 && data.requested <= data.shown) data.requested = data.shown + 1
    })
  }
}
"""


#: The nearest scrolling element around the space, across shadow roots (the page's frame
#: scrolls its main area, not the window). It is the observer's root: a scrolling ancestor
#: clips what it hides, so the window's view with a margin would never see the space early.
_OBSERVE = f"""
if (state.observer == null) {{
  let root = null
  for (let node = space.parentNode ?? null; node != null && root == null;
       node = node.parentNode ?? node.host ?? null) {{
    if (node instanceof Element && /(auto|scroll)/.test(getComputedStyle(node).overflowY))
      root = node
  }}
  state.observer = new IntersectionObserver((entries) => {{
    const entry = entries[entries.length - 1]
    if (!entry.isIntersecting || entry.rootBounds == null || data.row_height <= 0) return
    const reach = entry.rootBounds.bottom - entry.boundingClientRect.top
    const wanted = data.shown + Math.max(1, Math.ceil(reach / data.row_height))
    if (wanted > data.requested) data.requested = wanted
  }}, {{root, rootMargin: "{LOOK_AHEAD}"}})
  {_NEXT}
}}
"""


class PendingRows(ReactiveHTML):
    """Empty space standing in for the rows after the first :attr:`shown` rows."""

    shown = param.Integer(default=0, bounds=(0, None), doc="Rows drawn above this space.")
    pending = param.Integer(default=0, bounds=(0, None), doc="Rows still to come.")
    requested = param.Integer(
        default=0,
        bounds=(0, None),
        doc="Rows the browser wants drawn (counted from the first); only ever grows.",
    )
    row_height = param.Integer(default=0, bounds=(0, None), doc="Height of a row in pixels.")

    _template = '<div id="space" style="width: 100%; height: 100%"></div>'
    _scripts = {
        "after_layout": _OBSERVE,  # in the page by then, inside its scrolling parent
        "shown": _NEXT,
        "pending": _NEXT,
        "remove": """
          if (state.observer) state.observer.disconnect()
          if (state.idle != null) cancelIdleCallback(state.idle)
        """,
    }

    def __init__(self, **params: object) -> None:
        params.setdefault("sizing_mode", "stretch_width")
        params.setdefault("margin", 0)
        super().__init__(**params)

    def wait_for(self, shown: int, pending: int) -> None:
        """``shown`` rows are drawn and ``pending`` more are to come: take their space
        (none: hidden) and let the browser look again."""
        height = max(pending * self.row_height, 1)
        self.param.update(shown=shown, pending=pending, height=height, visible=pending > 0)
