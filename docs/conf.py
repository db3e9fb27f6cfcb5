"""Sphinx configuration: autodoc with Napoleon for the Google-style docstrings.

Nothing here fetches anything: intersphinx is left out, because no inventory
of Python's or Trio's documentation can be had without the network.
"""

from __future__ import annotations

import trio_mcast

project = "trio_mcast"
author = "The trio_mcast developers"
copyright = "the trio_mcast developers"
release = trio_mcast.__version__
version = release

extensions = ["sphinx.ext.autodoc", "sphinx.ext.napoleon"]
napoleon_google_docstring = True
napoleon_numpy_docstring = False
napoleon_use_rtype = False
autodoc_member_order = "bysource"
autodoc_typehints = "signature"
autodoc_preserve_defaults = True

exclude_patterns = ["_build"]
html_theme = "sphinx_rtd_theme"
html_static_path: list[str] = []
