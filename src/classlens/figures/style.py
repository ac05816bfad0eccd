"""What every figure shares. Class names come from the data, so they are drawn as plain text:
matplotlib's math parser would read `$x$` as TeX (and crash on `$\\frac$`); this is set once,
here, for every figure module imports this one. Names longer than `NAME_CHARS` are cut in ticks,
legends and row labels (a 300-character class made 6000-pixel figures); files and the report keep
the whole name."""

import matplotlib

NAME_CHARS = 32

matplotlib.rcParams["text.parse_math"] = False


def plain_ticks(axis) -> None:
    """Tick labels of a log or symlog `axis` in plain text (`1000`, `0.0006`): matplotlib's
    default writes them as math (`$\\mathdefault{10^{3}}$`), which the setting above shows raw.
    `LogFormatter` keeps its choice of which minor ticks to label."""
    from matplotlib.ticker import LogFormatter

    axis.set_major_formatter(LogFormatter())
    axis.set_minor_formatter(LogFormatter())
