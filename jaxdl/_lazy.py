"""Public names imported on first use (PEP 562), so that importing a package is cheap.

``attach(__name__, {"module": ["name", ...]})`` in a package's ``__init__`` makes each name an
attribute of the package that is imported from ``package.module`` when first used. The
package's submodules are attributes too (``jaxdl.engine``), as when everything is imported
eagerly. No module holds a public name of its own name, so ``import jaxdl.models.mlp as m``
gives the module, as Python's import system has it.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
from collections.abc import Mapping, Sequence


def attach(package_name: str, modules: Mapping[str, Sequence[str]]) -> list[str]:
    """Makes the names of ``modules`` (``{submodule: [name, ...]}``) lazy attributes of the
    package ``package_name``; returns them sorted, for ``__all__``."""
    package = sys.modules[package_name]
    lazy = {name: f"{package_name}.{module}" for module, names in modules.items() for name in names}
    submodules = {m.name for m in pkgutil.iter_modules(package.__path__)}

    def __getattr__(name):
        if name in lazy:
            value = getattr(importlib.import_module(lazy[name]), name)
        elif name in submodules:
            value = importlib.import_module(f"{package_name}.{name}")
        else:
            raise AttributeError(f"module {package_name!r} has no attribute {name!r}")
        setattr(package, name, value)
        return value

    def __dir__():
        return sorted({*vars(package), *lazy})

    package.__getattr__ = __getattr__
    package.__dir__ = __dir__
    return sorted(lazy)
