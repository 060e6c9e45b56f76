"""A page component that makes BokehJS read each CSS variable once per task, not per use.

BokehJS (3.9) looks up a CSS variable (``--bk-line-color``, ``--bk-text-font-size``, ...)
for every visual property each time it measures or paints, and a plot's font size each
time it measures a tick label: every label of every axis asks ``getComputedStyle`` again,
and each of those calls can make the browser recompute the page's styles. A page with a
dozen plots spent most of its first render there (bokeh/bokeh#15286).

:class:`CssValueCache` renders nothing; when the browser draws it, it wraps both lookups
with caches that live until the current task yields (a microtask), so a CSS change is
still seen by the next paint. The variables are cached by name for the whole page, not
per element: this app sets no ``--bk-*`` variable on single elements (neither does
Panel), so every element reads the same values. Font sizes are cached per plot. Put the
component on a page before its plots arrive; it patches the page's BokehJS once, however
many are drawn, and does nothing if BokehJS lacks the wrapped methods.
"""

from __future__ import annotations

from panel.reactive import ReactiveHTML

__all__ = ["CSS_CACHE_SCRIPT", "CssValueCache"]

#: The browser side: wrap ``VisualProperties._get_css_value`` once per page.
CSS_CACHE_SCRIPT = """
const bokeh = window.Bokeh
const module = bokeh && bokeh.require ? bokeh.require("core/visuals/visual") : null
const proto = module && module.VisualProperties ? module.VisualProperties.prototype : null
if (proto != null && typeof proto._get_css_value === "function" && !proto._cc_cached) {
  const lookup = proto._get_css_value
  let cache = null
  proto._get_css_value = function (name) {
    if (cache === null) {
      cache = new Map()
      queueMicrotask(() => { cache = null })
    }
    const key = this.css_prefix + name
    let value = cache.get(key)
    if (value === undefined) {
      value = lookup.call(this, name)
      cache.set(key, value)
    }
    return value
  }
  proto._cc_cached = true
}
const canvas = bokeh && bokeh.require ? bokeh.require("models/plots/plot_canvas") : null
const plot = canvas && canvas.PlotView ? canvas.PlotView.prototype : null
const font = plot ? Object.getOwnPropertyDescriptor(plot, "base_font_size") : undefined
if (font != null && font.get != null && !plot._cc_cached) {
  let sizes = null
  Object.defineProperty(plot, "base_font_size", {
    configurable: true,
    get() {
      if (sizes === null) {
        sizes = new Map()
        queueMicrotask(() => { sizes = null })
      }
      if (!sizes.has(this.el)) {
        sizes.set(this.el, font.get.call(this))
      }
      return sizes.get(this.el)
    },
  })
  plot._cc_cached = true
}
"""


class CssValueCache(ReactiveHTML):
    """Invisible; installs the cache of :data:`CSS_CACHE_SCRIPT` when rendered."""

    _template = '<div id="cc-css-cache" style="display: none"></div>'
    _scripts = {"render": CSS_CACHE_SCRIPT}

    def __init__(self, **params: object) -> None:
        params.setdefault("width", 0)
        params.setdefault("height", 0)
        params.setdefault("margin", 0)
        super().__init__(**params)
