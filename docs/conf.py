"""Sphinx configuration of genzoo's documentation.

Build it with ``make docs`` (HTML, warnings are errors) or directly::

    python -m sphinx -W --keep-going -b html docs docs/_build/html
    python -m sphinx -W --keep-going -b doctest docs docs/_build/doctest   # run the snippets

The snippets that read MNIST run only when ``GENZOO_DATA`` points at a folder holding it.
"""

from __future__ import annotations

import doctest
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
sys.path.insert(0, str(DOCS / "_ext"))

import genzoo  # noqa: E402  (installed, or importable from the checkout)

project = "genzoo"
author = "The genzoo developers"
copyright = "The genzoo developers"  # noqa: A001  (Sphinx's name)
release = genzoo.__version__
version = ".".join(release.split(".")[:2])

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.doctest",
    "sphinx.ext.viewcode",
    "sphinx.ext.graphviz",  # the architecture page's diagram, drawn by Graphviz's dot at build time
    "genzoo_docs",  # docs/_ext/genzoo_docs.py: small autodoc fixes
]

exclude_patterns = ["_build", "Thumbs.db", ".DS_Store"]
graphviz_output_format = "svg"
templates_path: list[str] = []
html_static_path = ["_static"]
# furo: made for technical pages (code blocks and wide tables scroll instead of being clipped,
# a navigation drawer on phones); docs/_static/genzoo.css widens it on large screens.
html_theme = "furo"
html_title = f"genzoo {release}"
html_css_files = ["genzoo.css"]
html_theme_options = {
    "navigation_with_keys": True,
    "top_of_page_buttons": [],
}

# -- autodoc and napoleon -------------------------------------------------------------------
autodoc_typehints = "description"
autodoc_typehints_format = "short"
autodoc_member_order = "bysource"
autodoc_class_signature = "mixed"
autodoc_preserve_defaults = True
autodoc_default_options = {"show-inheritance": True}
napoleon_google_docstring = True
napoleon_numpy_docstring = False
napoleon_use_rtype = False
napoleon_attr_annotations = True

# -- doctest --------------------------------------------------------------------------------
# Snippets marked ``:skipif: not HAVE_MNIST`` need MNIST under $GENZOO_DATA (no download).
doctest_global_setup = """
import os
from pathlib import Path

HAVE_MNIST = bool(os.environ.get("GENZOO_DATA")) and (
    Path(os.environ["GENZOO_DATA"]) / "MNIST" / "raw").is_dir()
"""
doctest_default_flags = (
    doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE | doctest.DONT_ACCEPT_TRUE_FOR_1
)
