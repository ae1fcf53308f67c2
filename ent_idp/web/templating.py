"""The pages' Jinja environment: Flask's, with each page compiled once per language.

**Texts translated when a page is compiled.** A page says ``{{ _("Identifiant") }}`` or
``{% trans %}…{% endtrans %}`` about twenty times; rendered, each is a call through Jinja's
context to ``gettext``, a catalogue lookup, a ``Markup`` and its escaping — about a fifth
of a page's rendering. A text with no variables is the same on every render in a given
language, so each template is compiled once per language (the cache key carries it) with
those texts already translated: the call becomes the translated text itself, marked safe
as ``_`` would return it (and, like ``_``, with ``%%`` read as ``%``). Texts with
variables, plurals and anything not a plain string stay calls, as before.
``language_of_context`` (set by ``web.i18n``) says which language and catalogue a render is
in (``force_locale`` included).

**Template globals that answer ``in`` quickly.** Jinja keeps each template's globals as a
``ChainMap`` over the environment's (``Environment.make_globals``), and every
``{% from "…" import … %}`` subtracts the imported template's globals from the importing
one's, asking that map ``in`` for each name (about thirty). ``ChainMap.__contains__`` builds
a generator per question; the same map with a plain loop answers the same, faster, and
while the template has no globals of its own its ``keys()`` are the environment's, which a
set subtracts in C.

**Compiled templates kept in a plain dict.** Jinja's default cache is an LRU of 400 whose
every lookup takes a lock and moves the key to the end of a deque (a linear scan of the
cache's ~130 keys: ≈ 15 µs, 29 lookups an activation). What it holds here is bounded by
the files in the template folders times the languages (a name with no file raises before
anything is kept), so nothing ever needs evicting: ``cache_size=-1``, Jinja's dict.
"""

from __future__ import annotations

import weakref
from collections import ChainMap
from collections.abc import Callable
from contextvars import ContextVar

from flask.templating import Environment
from jinja2 import nodes
from jinja2.visitor import NodeTransformer

# What ``_("…")`` and ``{% trans %}`` compile to in templates (newstyle gettext).
GETTEXT_NAMES = frozenset({"_", "gettext"})

_catalogue: ContextVar[object | None] = ContextVar("ent_idp_compiling_catalogue", default=None)


class _Globals(ChainMap):
    def __contains__(self, key: object) -> bool:
        for mapping in self.maps:
            if key in mapping:
                return True
        return False

    def keys(self):
        own, *shared = self.maps
        return shared[0].keys() if not own and len(shared) == 1 else super().keys()


class PageEnvironment(Environment):
    # () -> (language code, its catalogue: an object with ``ugettext``); None: no folding.
    language_of_context: Callable[[], tuple[str, object]] | None = None

    def __init__(self, app, **options):
        options.setdefault("cache_size", -1)
        super().__init__(app, **options)

    def make_globals(self, d):
        return _Globals(d or {}, self.globals)

    def _load_template(self, name, globals):
        """Jinja's, with the language of the render in the cache key and the compilation."""
        if self.language_of_context is None or self.loader is None:
            return super()._load_template(name, globals)
        language, catalogue = self.language_of_context()
        key = (weakref.ref(self.loader), name, language)
        template = self.cache.get(key) if self.cache is not None else None
        if template is not None and (not self.auto_reload or template.is_up_to_date):
            if globals:
                template.globals.update(globals)
            return template
        token = _catalogue.set(catalogue)
        try:
            template = self.loader.load(self, name, self.make_globals(globals))
        finally:
            _catalogue.reset(token)
        if self.cache is not None:
            self.cache[key] = template
        return template

    def _parse(self, source, name, filename):
        tree = super()._parse(source, name, filename)
        catalogue = _catalogue.get()
        return tree if catalogue is None else _Translated(catalogue).visit(tree)


class _Translated(NodeTransformer):
    """Each ``_("text")`` / ``gettext("text")`` without variables: the translated text."""

    def __init__(self, catalogue):
        self.catalogue = catalogue

    def visit_Call(self, node: nodes.Call) -> nodes.Node:
        node = self.generic_visit(node)
        callee, args = node.node, node.args
        if not (
            isinstance(callee, nodes.Name)
            and callee.name in GETTEXT_NAMES
            and callee.ctx == "load"
            and len(args) == 1
            and isinstance(args[0], nodes.Const)
            and isinstance(args[0].value, str)
            and not node.kwargs
            and node.dyn_args is None
            and node.dyn_kwargs is None
        ):
            return node
        text = self.catalogue.ugettext(args[0].value)
        if "%" in text:
            try:
                text = text % {}  # what ``_`` does with a text that has ``%`` in it
            except (KeyError, TypeError, ValueError):
                return node  # let the render fail or work as it always did
        return nodes.MarkSafeIfAutoescape(nodes.Const(text, lineno=node.lineno), lineno=node.lineno)
