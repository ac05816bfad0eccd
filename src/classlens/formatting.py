"""Numbers as text: the one formatter of values in tables (the gate's verdict, the model card,
the HTML report)."""

from __future__ import annotations

import math
from typing import Any

DASH = "\u2014"  # what an undefined number (None, NaN) shows as


def format_value(value: Any, *, signed: bool = False, compact: bool = False) -> str:
    """A value as table text: None and NaN as an em dash, True/False as yes/no, floats with
    4 decimals (`signed`: with a leading + or -), anything else with `str`.

    `compact` (prose and Markdown cards): trailing zeros dropped (0.9500 -> 0.95), integers with
    thousands separators, and floats of 1,000 or more with one decimal (12,345.6).

    >>> format_value(0.95), format_value(0.95, compact=True), format_value(-0.02, signed=True)
    ('0.9500', '0.95', '-0.0200')
    >>> format_value(None) == DASH, format_value(12345), format_value(12345, compact=True)
    (True, '12345', '12,345')
    """
    if value is None:
        return DASH
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}" if compact else str(value)
    if not isinstance(value, float):
        return str(value)
    if math.isnan(value):
        return DASH
    if compact:
        return f"{value:.4f}".rstrip("0").rstrip(".") if abs(value) < 1000 else f"{value:,.1f}"
    return f"{value:+.4f}" if signed else f"{value:.4f}"
