"""Jupyter Book 1 always loads sphinx-thebe, whose defaults point every page's Binder configuration at an
unrelated public repository (``binder-examples/jupyter-stacks-datascience``) and load its JavaScript.
The book has no live-code button, so this extension takes thebe out of the pages: its configuration
block, its script and its inline variables."""

from __future__ import annotations

from docutils import nodes


def _drop_thebe_config(app, doctree, docname) -> None:
    for node in list(doctree.findall(nodes.raw)):
        if "x-thebe-config" in node.astext():
            node.parent.remove(node)


def _is_thebe(js) -> bool:
    return str(js.filename).endswith("sphinx-thebe.js") or "THEBE_JS_URL" in str(js.attributes.get("body", ""))


def _drop_thebe_scripts(app, pagename, templatename, context, doctree) -> None:
    scripts = context.get("script_files")
    if scripts is not None:
        context["script_files"] = [js for js in scripts if not _is_thebe(js)]
    styles = context.get("css_files")
    if styles is not None:
        context["css_files"] = [css for css in styles if "sphinx-thebe" not in str(css.filename)]


def setup(app):
    app.connect("doctree-resolved", _drop_thebe_config, priority=900)  # after sphinx-thebe adds it
    app.connect("html-page-context", _drop_thebe_scripts, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
