"""A small site showing aiohttp_guard at work: `python -m aiohttp_guard.demo`.

Its code is meant to be read and copied: typed, short, and using the public
API only.
"""

from .app import make_app

__all__ = ["make_app"]
