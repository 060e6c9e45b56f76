"""The web app: Panel pages served by the same process as the API.

Stores (``app/stores``) fetch through :mod:`cc_backend.client`, views (``app/views``)
draw, pages (``app/pages``) compose them in the one template (``app/template.py``).
``app/site.py`` is what ``cc-backend serve`` mounts. See ``app/README.md``.
"""
