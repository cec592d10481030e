"""Sphinx 7.4 writes every inline ``<script>`` that an extension registers after ``Builder.init()``
twice: once as added (``filename=None``) and once more when ``prepare_writing`` re-adds the
registry's late assets (``filename=''``), and the two do not compare equal. For sphinx-thebe that
is ``const THEBE_JS_URL = ...`` declared twice, a SyntaxError in the console of every page.

This extension drops the ``None`` copies after reading, before writing; the registry's copies remain.
"""

from __future__ import annotations


def _drop_early_inline_copies(app, env) -> None:
    files = getattr(app.builder, "_js_files", None)
    if files is not None:
        files[:] = [js for js in files if js.filename is not None]


def setup(app):
    app.connect("env-updated", _drop_early_inline_copies)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
