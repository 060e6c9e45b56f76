"""Small stand-alone HTML pages (no Panel, no script): search results that lead nowhere.

The styles are inline, so the page needs nothing but itself; it follows the browser's
light or dark preference.
"""

from __future__ import annotations

from tornado.escape import xhtml_escape

__all__ = ["PAGE_STYLE", "message_page"]

#: The look shared by the stand-alone pages (login, messages, 403).
PAGE_STYLE = """
:root { color-scheme: light dark; --accent: #0d6efd; --muted: #6c757d; }
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 0;
       min-height: 100vh; display: flex; align-items: center; justify-content: center;
       background: Canvas; color: CanvasText; }
main { max-width: 28rem; width: 100%; padding: 2rem; border-radius: .5rem;
       box-shadow: 0 .25rem 1rem rgba(0, 0, 0, .15); }
h1 { font-size: 1.4rem; margin-top: 0; }
.notice { padding: .75rem 1rem; border-radius: .375rem; margin-bottom: 1rem; }
.notice.info { background: rgba(13, 110, 253, .15); }
.notice.warning { background: rgba(255, 193, 7, .25); }
.notice.error { background: rgba(220, 53, 69, .2); }
a { color: var(--accent); }
"""


def message_page(title: str, text: str, kind: str = "info") -> str:
    """A page with a heading, one message of ``kind`` (info, warning, error) and a link
    home; every value is escaped."""
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{xhtml_escape(title)} - ClusterCockpit</title>"
        f"<style>{PAGE_STYLE}</style></head><body><main>"
        f"<h1>{xhtml_escape(title)}</h1>"
        f'<p class="notice {xhtml_escape(kind)}" role="alert">{xhtml_escape(text)}</p>'
        '<p><a href="/">Back to the start page</a></p></main></body></html>'
    )
