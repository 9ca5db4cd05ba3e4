"""Old import paths of the modules that moved into layers in 0.3, kept until 0.4."""

from __future__ import annotations

import importlib
import sys
import warnings


def alias(old: str, new: str) -> None:
    """Make module ``old`` the very module ``new`` (one object, so patches apply to both)."""
    warnings.warn(
        f"{old} moved to {new}; import it from there (the old path goes away in 0.4)",
        DeprecationWarning,
        stacklevel=3,
    )
    sys.modules[old] = importlib.import_module(new)
