"""Numbers as text: the one formatter of values in tables (the gate's verdict, the model card,
the HTML report)."""

from __future__ import annotations

import math
from typing import Any, Optional

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


# Names (the last dotted or slashed segment) whose values are counts even when stored as floats
# (MLflow keeps every metric as a float; flattened metrics are floats).
COUNT_NAMES = frozenset({"n_samples", "support", "resamples", "seed", "n_bins", "n_validation",
                         "epoch", "epochs", "epochs_run", "best_epoch", "step", "steps", "count",
                         "images", "flips"})
# Names whose values are small by nature and read best in scientific notation.
SCIENTIFIC_NAMES = ("learning_rate", "lr", "weight_decay", "epsilon", "min_delta")
TINY = 1e-4  # below this a 4-decimal rate would read 0.0000: scientific notation instead


def number_kind(value: Any, name: str = "") -> str:
    """How a value reads in a table: "text", "integer", "scientific" or "rate" (4 decimals).

    The name decides first (`n_samples`, `support`, `.../epochs` are integers; `learning_rate`,
    `lr` scientific), then the value: Python and NumPy integers and integral floats of 2 or more
    are integers, non-zero floats below 1e-4 in magnitude scientific, other floats rates."""
    value = _plain(value)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return "text"
    leaf = name.replace("/", ".").rsplit(".", 1)[-1].lower()
    if leaf in COUNT_NAMES or leaf.startswith("n_"):
        return "integer"
    if any(leaf == s or leaf.endswith("_" + s) or leaf.startswith(s + "_")
           for s in SCIENTIFIC_NAMES):
        return "scientific"
    if isinstance(value, int) or (math.isfinite(value) and value.is_integer() and abs(value) >= 2):
        return "integer"
    if value != 0 and math.isfinite(value) and abs(value) < TINY:
        return "scientific"
    return "rate"


def format_number(value: Any, *, name: str = "", signed: bool = False) -> str:
    """A value formatted by its kind (see `number_kind`): 360 (not 360.0000), 0.9833, 2e-03,
    1.5e-05; strings as given (params are shown as logged); None and NaN as an em dash.
    `signed`: numbers with a leading + or - (a change).

    >>> format_number(360.0, name="n_samples"), format_number(0.98333)
    ('360', '0.9833')
    >>> format_number(0.002, name="train/learning_rate"), format_number("0.002")
    ('2e-03', '0.002')
    >>> format_number(-0.075, signed=True), format_number(3.0, name="support", signed=True)
    ('-0.0750', '+3')
    """
    value = _plain(value)
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return DASH
    kind = number_kind(value, name)
    sign = "+" if signed else ""
    if kind == "text":
        return format_value(value)
    if kind == "integer" and math.isfinite(value):
        return f"{int(round(value)):{sign}d}"
    if kind == "scientific" and value != 0 and math.isfinite(value):
        mantissa, exponent = f"{value:{sign}.2e}".split("e")
        return f"{mantissa.rstrip('0').rstrip('.')}e{exponent}"
    return f"{value:{sign}.4f}"


def _plain(value: Any) -> Any:
    """NumPy scalars as the Python value they hold (np.int64 -> int, np.bool_ -> bool)."""
    item = getattr(value, "item", None)
    if item is not None and not isinstance(value, (str, bytes)) and getattr(value, "ndim", 1) == 0:
        return item()
    return value


def plural(n: Any, word: str, many: Optional[str] = None) -> str:
    """`plural(1, "error")` -> "1 error", `plural(2, "error")` -> "2 errors"; `many` for an
    irregular plural (`plural(3, "class", "classes")`)."""
    return f"{format_number(n)} {word if n == 1 else (many or word + 's')}"
