"""Small Sphinx helpers for genzoo's documentation (loaded by ``docs/conf.py``)."""

from __future__ import annotations

import csv
import importlib
import pkgutil
import re
from pathlib import Path
from typing import Any

from docutils import nodes
from docutils.statemachine import StringList
from sphinx.util.docutils import SphinxDirective

#: A ``:type:`` napoleon made from a phrase ("The error as one line"), not from a type.
_PHRASE_TYPE = re.compile(r"^:type: (\w+(?:\s+\w+){2,})\s*$")


def _drop_type_docstrings(app: Any, what: str, name: str, obj: Any, options: Any,
                           lines: list[str]) -> None:
    """Give a constant without a doc comment no docstring, rather than its type's.

    autodoc falls back to ``type(obj).__doc__`` for module data, which would describe
    ``str`` or ``tuple`` under ``FORMAT`` or ``IMAGE_EXTENSIONS``.
    """
    if what not in ("data", "attribute") or not lines:
        return
    type_doc = (type(obj).__doc__ or "").strip()
    if type_doc and lines[0].strip() == type_doc.splitlines()[0].strip():
        lines.clear()


def _skip_namedtuple_aliases(app: Any, what: str, name: str, obj: Any, skip: bool,
                             options: Any) -> bool | None:
    """Skip the ``Alias for field number N`` accessors of NamedTuple classes.

    Their fields are already documented from the class docstring's ``Attributes:`` section;
    documenting the accessors too would describe each field twice.
    """
    if (getattr(obj, "__doc__", None) or "").startswith("Alias for field number"):
        return True
    return None


def _keep_property_sentences(app: Any, what: str, name: str, obj: Any, options: Any,
                             lines: list[str]) -> None:
    """Undo napoleon reading a property's first sentence as ``type: description``.

    Napoleon parses the first line of a property's docstring as an inline ``type:
    description``; for a sentence with a colon in it ("The error as one line: ...") the first
    half would become a bogus "Type:" field. Put it back in front of the description.
    """
    if what not in ("property", "attribute"):
        return
    for index, line in enumerate(lines):
        match = _PHRASE_TYPE.match(line)
        if match:
            del lines[index]
            first = next((i for i, text in enumerate(lines) if text.strip()), None)
            if first is not None:
                lines[first] = f"{match.group(1)}: {lines[first].lstrip()}"
            while lines and not lines[-1].strip():
                lines.pop()
            return


def _drop_bases_object(app: Any, doctree: Any) -> None:
    """Leave out "Bases: object": every class has it, so it says nothing."""
    for paragraph in list(doctree.findall(nodes.paragraph)):
        if paragraph.astext() == "Bases: object":
            paragraph.parent.remove(paragraph)


def _autodoc_lines(module: Any, name: str) -> list[str]:
    """The autodoc directive for ``module.name``, by what kind of object it is."""
    obj = getattr(module, name)
    if isinstance(obj, type) and issubclass(obj, BaseException):
        return [f".. autoexception:: {name}", ""]
    if isinstance(obj, type):
        return [f".. autoclass:: {name}", "   :members:", ""]
    if callable(obj):
        return [f".. autofunction:: {name}", ""]
    return [f".. autodata:: {name}", ""]  # documented even without a doc comment


class SubmoduleMembers(SphinxDirective):
    """``.. genzoo-submodules:: package``: document what the package's submodules add.

    For each public submodule, an ``automodule`` of the names in its ``__all__`` that the
    package itself does not export (those are documented with the package). Submodules that
    add nothing are left out; a name added to a submodule later shows up by itself.
    """

    required_arguments = 1

    def run(self) -> list[Any]:
        package = importlib.import_module(self.arguments[0])
        exported = set(getattr(package, "__all__", ()))
        lines: list[str] = []
        for info in pkgutil.iter_modules(package.__path__, prefix=f"{package.__name__}."):
            if info.name.rsplit(".", 1)[1].startswith("_"):
                continue
            module = importlib.import_module(info.name)
            extra = [name for name in getattr(module, "__all__", ()) if name not in exported]
            if extra:
                lines += [f".. automodule:: {info.name}", "   :no-members:", ""]
                lines += [line for name in extra for line in _autodoc_lines(module, name)]
        content = StringList(lines, source=self.get_source_info()[0])
        holder = nodes.container()
        self.state.nested_parse(content, self.content_offset, holder)
        return list(holder.children)


class ModelGallery(SphinxDirective):
    """``.. model-gallery::``: every model's sample grid in ``_static/models/``, at one size.

    The images are found when the docs are built, so a grid added there (by
    ``benchmarks/quality.py --figures``, or by hand for a new plugin's model) appears without
    editing any page. Rows of ``guide/quality.csv`` name and order them (the file
    ``<configuration with - for spaces>.png``) and give each caption its settings and FID;
    images the table does not list follow, by name.
    """

    option_spec = {"folder": str, "table": str}

    def run(self) -> list[Any]:
        folder = self.options.get("folder", "_static/models")
        table = self.options.get("table", "guide/quality.csv")
        source = Path(self.env.srcdir)
        self.env.note_dependency(str(source / table))
        images = {path.stem: path for path in sorted((source / folder).glob("*.png"))}
        rows = _quality_rows(source / table)
        order = [name for name in rows if name in images]
        order += [name for name in images if name not in rows]
        lines = [".. container:: model-gallery", ""]
        for name in order:
            row = rows.get(name, {})
            title = row.get("configuration", name)
            settings = row.get("settings", "")
            detail = " ".join(part for part in (
                settings if settings and settings != "defaults" else "",
                f"FID {row['FID ↓']} ({row['× floor']} the floor)" if row.get("FID ↓") else "")
                if part)
            lines += [f"   .. figure:: /{folder}/{images[name].name}",
                      f"      :alt: samples of {title}",
                      "",
                      f"      **{title}**" + (f" · {detail}" if detail else ""),
                      ""]
        if not order:
            lines += ["   No model grids yet.", ""]
        content = StringList(lines, source=self.get_source_info()[0])
        holder = nodes.container()
        self.state.nested_parse(content, self.content_offset, holder)
        return list(holder.children)


def _quality_rows(path: Path) -> dict[str, dict[str, str]]:
    """``quality.csv``'s rows by image name (``gan ema`` → ``gan-ema``), in the file's order."""
    if not path.is_file():
        return {}
    with path.open(encoding="utf-8", newline="") as f:
        return {row["configuration"].replace(" ", "-"): row for row in csv.DictReader(f)
                if row.get("configuration") and not row["configuration"].startswith("*")}


def setup(app: Any) -> dict[str, Any]:
    app.add_directive("genzoo-submodules", SubmoduleMembers)
    app.add_directive("model-gallery", ModelGallery)
    app.connect("autodoc-skip-member", _skip_namedtuple_aliases)
    app.connect("autodoc-process-docstring", _drop_type_docstrings, priority=100)
    app.connect("autodoc-process-docstring", _keep_property_sentences, priority=600)  # after napoleon
    app.connect("doctree-read", _drop_bases_object)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
