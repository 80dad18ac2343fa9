"""osscname: one bindings file for custom domains on object-storage buckets.

``load_bindings(path_or_text)`` validates a bindings file into an immutable :class:`BindingSet`
(or raises :class:`BindingError` listing every ``FILE:LINE:COL: message``); ``BindingSet.match(host)``
finds the binding for a raw ``Host`` header. The WSGI middleware (``osscname.middleware``) and the
config generators (``osscname.generators``) consume that model and nothing else.
"""

from .hosts import normalize_host
from .loader import BindingError, Problem, load_bindings
from .model import Binding, BindingSet

__all__ = ["Binding", "BindingError", "BindingSet", "Problem", "load_bindings", "normalize_host"]
