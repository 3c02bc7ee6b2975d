"""The one set of value checks that every config and public function uses.

Each check returns the value (as a plain Python type) or raises ``error`` (by default
:class:`~aeot.errors.ConfigError`, a ``ValueError``) with a one-line message naming the value
received and what is allowed. Bools are never numbers here.
"""

from __future__ import annotations

import math
import numbers
from typing import Any, Sequence

from aeot.errors import ConfigError

__all__ = ["check_choice", "check_flag", "check_int", "check_positive_int", "check_positive_number", "check_real"]


def check_int(name: str, value: Any, *, low: int = 1, what: str | None = None,
              error: type[Exception] = ConfigError) -> int:
    """``value`` as an int if it is an integer ``>= low`` (bools refused), else ``error``.

    Parameters
    ----------
    name : str
        The name the message gives the value (e.g. ``"refine epochs"``, ``"--n"``).
    value : object
        The value to check.
    low : int
        The smallest allowed value.
    what : str, optional
        What is allowed, in words (default ``"a positive int"`` for ``low=1``, else
        ``"an int >= low"``).
    error : type
        The exception class raised.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low:
        if what is None:
            what = "a positive int" if low == 1 else f"an int >= {low}"
        raise error(f"{name} must be {what}, got {value!r}")
    return int(value)


def check_positive_int(name: str, value: Any, *, error: type[Exception] = ConfigError) -> int:
    """``value`` as an int if it is a positive integer (bools refused), else ``error``."""
    return check_int(name, value, low=1, error=error)


def check_positive_number(name: str, value: Any, *, what: str = "a positive number",
                          error: type[Exception] = ConfigError) -> float:
    """``value`` as a float if it is a finite real number ``> 0`` (bools refused), else ``error``."""
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value) and value > 0
    if not ok:
        raise error(f"{name} must be {what}, got {value!r}")
    return float(value)


def check_real(name: str, value: Any, *, low: float, high: float = float("inf"),
               low_open: bool = False, high_open: bool = False) -> float:
    """``value`` as a float inside the interval, else :class:`ConfigError` naming the interval."""
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)
    if ok:
        v = float(value)
        ok = (v > low if low_open else v >= low) and (v < high if high_open else v <= high)
    if not ok:
        lo, hi = "(" if low_open else "[", ")" if high_open else "]"
        raise ConfigError(f"{name} must be a number in {lo}{low}, {high}{hi}, got {value!r}")
    return float(value)


def check_flag(name: str, value: Any, *, error: type[Exception] = ConfigError) -> bool:
    """``value`` if it is ``True`` or ``False`` (not 0, 1 or a string), else ``error``."""
    if not isinstance(value, bool):
        raise error(f"{name} must be True or False, got {value!r}")
    return value


def check_choice(name: str, value: Any, allowed: Sequence[Any]) -> Any:
    """``value`` if it is one of ``allowed``, else :class:`ConfigError` listing them."""
    if isinstance(value, bool) or value not in allowed:
        raise ConfigError(f"{name} must be one of {', '.join(map(str, allowed))}; got {value!r}")
    return value
