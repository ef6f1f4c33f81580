"""Half-up rounding, the way Vietnamese scoring spreadsheets and QĐ 766 round points.

Python's ``round`` and numpy round half to even, and binary floats put 4.95 just below itself
(0.825 × 6 = 4.949999…); both would cost agencies 0.01 points at the boundary. We first snap to
10 decimals to remove float noise, then round half away from zero.
"""

from __future__ import annotations

from typing import overload

import numpy as np
import numpy.typing as npt

_SNAP = 10


@overload
def half_up(x: float, decimals: int) -> float: ...
@overload
def half_up(x: np.ndarray, decimals: int) -> np.ndarray: ...
def half_up(x: npt.ArrayLike, decimals: int) -> float | np.ndarray:
    """Round ``x`` (scalar or array) half away from zero to ``decimals`` places."""
    arr = np.asarray(x, dtype=float)
    snapped = np.round(arr, _SNAP)
    scale = 10.0**decimals
    out = np.sign(snapped) * np.floor(np.abs(snapped) * scale + 0.5) / scale
    out = np.round(out, decimals)  # drop the binary tail of the division
    return float(out) if np.ndim(out) == 0 else out


@overload
def floor_to(x: float, decimals: int) -> float: ...
@overload
def floor_to(x: np.ndarray, decimals: int) -> np.ndarray: ...
def floor_to(x: npt.ArrayLike, decimals: int) -> float | np.ndarray:
    """Largest number with ``decimals`` places not above ``x`` (keeps points within max)."""
    arr = np.round(np.asarray(x, dtype=float), _SNAP)
    scale = 10.0**decimals
    out = np.round(np.floor(arr * scale) / scale, decimals)
    return float(out) if np.ndim(out) == 0 else out
