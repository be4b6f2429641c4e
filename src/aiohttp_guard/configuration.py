"""`ConfigurationWarning`: a setting that works, but not as its user likely meant.

Settings that cannot work are a `ValueError` or `TypeError` where they are
given. Those that work but are most likely a mistake warn instead, under a
category of their own so that an application can turn them into errors
(`warnings.simplefilter("error", ConfigurationWarning)`) or silence one.
"""

from __future__ import annotations

import inspect
import warnings

__all__ = ["ConfigurationWarning", "warn_configuration"]


class ConfigurationWarning(UserWarning):
    """aiohttp_guard was configured in a way that is probably a mistake."""


def warn_configuration(message: str) -> None:
    """Warn with `message`, pointing at the first line outside aiohttp_guard:
    the application's line that passed the setting."""
    stacklevel = 2  # warnings.warn's 1 is this function; 2, its caller
    here = inspect.currentframe()
    frame = None if here is None else here.f_back
    while frame is not None and _is_ours(frame.f_globals.get("__name__", "")):
        frame = frame.f_back
        stacklevel += 1
    warnings.warn(message, ConfigurationWarning, stacklevel=stacklevel)


def _is_ours(module: str) -> bool:
    return module == "aiohttp_guard" or module.startswith("aiohttp_guard.")
