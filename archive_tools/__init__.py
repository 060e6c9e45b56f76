"""Command-line tools for job archives: validation, import, conversion and statistics."""
