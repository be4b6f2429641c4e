# Stubs for atheris (untyped): the parts aiohttp_guard's fuzz harnesses use.
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager

def Setup(  # noqa: N802 - the package's name
    args: Sequence[str], test_one_input: Callable[[bytes], None]
) -> list[str]: ...
def Fuzz() -> None: ...  # noqa: N802
def instrument_imports() -> AbstractContextManager[None]: ...

class FuzzedDataProvider:
    def __init__(self, data: bytes) -> None: ...
    def ConsumeBytes(self, count: int) -> bytes: ...  # noqa: N802
    def ConsumeUnicodeNoSurrogates(self, count: int) -> str: ...  # noqa: N802
    def ConsumeUnicode(self, count: int) -> str: ...  # noqa: N802
    def ConsumeIntInRange(self, low: int, high: int) -> int: ...  # noqa: N802
    def ConsumeBool(self) -> bool: ...  # noqa: N802
    def remaining_bytes(self) -> int: ...
