"""Sphinx configuration for the losslab documentation (``make docs``).

Why Sphinx + autodoc + napoleon + furo: the docstrings are Google style with reStructuredText math and citations,
which autodoc and napoleon read unchanged (MkDocs would need every ``.. math::`` block rewritten); MathJax renders
the math; furo is a maintained, readable theme with a dark mode and a searchable sidebar; myst-parser lets the
prose pages be Markdown. Everything that lists losses (API pages, gallery, tables) is generated at build time by
``_ext/losslab_docs.py`` from ``losslab.__all__`` and the catalogue, so a new loss needs no edit here.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))
sys.path.insert(0, str(HERE / "_ext"))
os.environ.setdefault("KERAS_BACKEND", "torch")
os.environ.setdefault("MPLBACKEND", "Agg")

import losslab  # noqa: E402

project = "losslab"
author = "the losslab authors"
copyright = "the losslab authors, Apache-2.0"
release = version = losslab.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.mathjax",
    "myst_parser",
    "losslab_docs",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "generated/fragments"]
templates_path: list[str] = []
# Each docstring's citations become footnotes of its own page (see _ext/losslab_docs.py); a reference list whose
# entries the text does not cite is legitimate there, so "footnote is not referenced" is not a warning.
suppress_warnings = ["ref.footnote"]

# Google-style docstrings; every section header in the house template (Args, Returns, Raises, Note, Example,
# References) is a napoleon section.
napoleon_google_docstring = True
napoleon_numpy_docstring = False
napoleon_use_rtype = False
napoleon_use_ivar = True

autodoc_member_order = "bysource"
autodoc_typehints = "signature"
autodoc_default_options = {"undoc-members": False}
add_module_names = False
add_function_parentheses = False
python_display_short_literal_types = True

myst_enable_extensions = ["dollarmath", "colon_fence", "deflist"]
myst_heading_anchors = 3

html_theme = "furo"
html_title = f"losslab {release}"
html_static_path = ["_static"]
html_css_files = ["losslab.css"]
html_theme_options = {
    "sidebar_hide_name": False,
    "navigation_with_keys": True,
}
html_show_sourcelink = False
# MathJax: the default (a CDN) unless a local copy is named, e.g. for building and reading offline:
#   LOSSLAB_MATHJAX=/usr/share/javascript/mathjax/MathJax.js make docs
#   LOSSLAB_MATHJAX="/usr/share/javascript/mathjax/MathJax.js?config=TeX-AMS-MML_HTMLorMML" make docs
# (Debian's libjs-mathjax is MathJax 2: it gets the equivalent of the MathJax 3 settings below.)
if os.environ.get("LOSSLAB_MATHJAX"):
    _mj = os.environ["LOSSLAB_MATHJAX"]
    mathjax_path = "file://" + _mj if _mj.startswith("/") else _mj
    if "MathJax.js" in _mj:
        # myst marks prose sections tex2jax_ignore and lets MathJax 3 process only the class "math"; say the same
        # to MathJax 2.
        myst_update_mathjax = False
        mathjax2_config = {"tex2jax": {"processClass": "math|tex2jax_process|mathjax_process",
                                       "ignoreClass": "tex2jax_ignore|mathjax_ignore"}}
