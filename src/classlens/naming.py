"""Names made safe where they end up. A class name is any string (`ship/`, `../../x`, `a.b`,
`<img src=x>`, 300 characters, any script); this module is the one place that turns it into

- a file-name stem (`file_stems`): ASCII letters, digits and `_ . -`, never `.`/`..`, never a
  Windows device name, at most `MAX_KEY` characters, unique even on a case-insensitive disk;
- the class's part of an MLflow metric key (`metric_keys`): what MLflow accepts
  (`mlflow.utils.validation`: letters and digits of any script, `_ - . /`, space; a key must not
  change under `posixpath.normpath`; at most `MAX_ENTITY_KEY_LENGTH` = 250 characters) less `/`
  (a class is one path segment) and `:` (refused on Windows), at most `MAX_KEY` characters, so
  `test/average_precision_high/<key>` stays far inside the limit;
- Markdown text (`markdown_text`, `markdown_code`): no raw HTML, no broken table row.

Stems and keys depend only on the set of names, never on their order: evaluate (class order),
analyze (weakest first) and `classlens compare` (all_metrics.json, keys sorted) agree. Names
that clean to the same key: the name that already was that key (else the first in sorted
order) keeps it, the others get `-` and 8 hex digits of their name's SHA-256; a name longer
than `MAX_KEY` is cut and gets the same suffix, so two long names never collide. `class_keys`
is the record of both mappings (the evaluate stage writes it). Also the one flattener of nested
dicts to dotted names (params and metrics alike) and Keras' epoch metric names."""

from __future__ import annotations

import hashlib
import html
import re
import unicodedata
from typing import Any, Callable, Hashable, Iterable, Mapping, TypeVar

MAX_KEY = 100  # characters of a name's part of a file name or metric key: `pair_<a>_to_<b>.png`
# holds two stems and stays under the 255 bytes a file name may have
_SUFFIX_HEX = 8
# Windows refuses these as file names, whatever the extension (`CON.csv`)
_DEVICES = {"CON", "PRN", "AUX", "NUL", *(f"{d}{i}" for d in ("COM", "LPT") for i in range(10))}
_METRIC_CHAR = re.compile(r"[\w.\- ]")  # MLflow's `[/\w.\- :]` less `/` and `:`
_FILE_CHAR = re.compile(r"[A-Za-z0-9_.\-]")

Item = TypeVar("Item", bound=Hashable)


def _sanitise(name: str, allowed: Callable[[str], bool]) -> str:
    """`name` with every character that `allowed` rejects replaced by `_`."""
    return "".join(c if allowed(c) else "_" for c in name)


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:_SUFFIX_HEX]


def _suffixed(base: str, suffix: str) -> str:
    """`base` cut so that `base + suffix` fits in `MAX_KEY`, without a dot or space at the cut."""
    return base[:MAX_KEY - len(suffix)].rstrip(". ") + suffix


def _unique(items: Iterable[Item], text: Callable[[Item], str], clean: Callable[[str], str],
            fold: Callable[[str], str]) -> dict[Item, str]:
    """Each item -> a key from `clean(text(item))`, unique under `fold` (see the module doc)."""
    items = list(dict.fromkeys(items))
    base = {}
    for item in items:
        name = text(item)
        key = clean(name)
        base[item] = key if len(key) <= MAX_KEY else _suffixed(key, f"-{_digest(name)}")
    # the name that already is its key first, then by name: independent of the input's order
    ranked = sorted(items, key=lambda i: (text(i) != base[i], text(i), repr(i)))
    keys: dict[Item, str] = {}
    taken: set[str] = set()
    for item in ranked:
        key, n = base[item], 0
        while fold(key) in taken:  # a clash: the name's hash (then a counter, never in practice)
            n += 1
            key = _suffixed(base[item], f"-{_digest(text(item))}" + (f"-{n}" if n > 1 else ""))
        taken.add(fold(key))
        keys[item] = key
    return {item: keys[item] for item in items}


def _file_stem(name: str) -> str:
    # accents become plain letters (café -> cafe); anything else outside ASCII becomes `_`
    plain = "".join(c for c in unicodedata.normalize("NFKD", name) if not unicodedata.combining(c))
    stem = _sanitise(plain, _FILE_CHAR.fullmatch).strip(".") or "_"
    return f"_{stem}" if stem.split(".")[0].upper() in _DEVICES else stem


def _metric_part(name: str) -> str:
    return _sanitise(name, _METRIC_CHAR.fullmatch).strip(". ") or "_"


def file_stems(names: Iterable[Item], text: Callable[[Item], str] = str) -> dict[Item, str]:
    """Each name -> a unique file-name stem ("hot dog!" -> "hot_dog_", "../x" -> "_x"). `text`
    spells an item that is not a string (a pair of classes: `"_to_".join`).

    >>> file_stems(["a b", "a_b", "../x", "Ship", "ship"])
    {'a b': 'a_b-c8687a08', 'a_b': 'a_b', '../x': '_x', 'Ship': 'Ship', 'ship': 'ship-e5d5b971'}
    """
    return _unique(names, text, _file_stem, str.lower)  # unique on case-insensitive disks too


def metric_keys(names: Iterable[str]) -> dict[str, str]:
    """Each class name -> its unique part of the MLflow metric keys (`test/f1/<key>`); letters of
    any script stay ("ship/" -> "ship_", "a.b" -> "a.b", "猫" -> "猫"). Unique ignoring case,
    as a MySQL-backed tracking server compares keys."""
    return _unique(names, str, _metric_part, str.casefold)


def class_keys(names: Iterable[str]) -> dict[str, dict[str, str]]:
    """The record of what each class is called where a name must be safe: {name: {"metric_key",
    "file_stem"}}, in the given order."""
    names = list(names)
    metric, stems = metric_keys(names), file_stems(names)
    return {name: {"metric_key": metric[name], "file_stem": stems[name]} for name in names}


def shortened(name: str, limit: int) -> str:
    """A name cut to `limit` characters, an ellipsis marking the cut: for a figure's ticks,
    legends and captions, where a 300-character class would squeeze the plot to nothing (the
    report and the files keep the whole name)."""
    name = str(name)
    return name if len(name) <= limit else name[:limit - 1] + "\u2026"


# ---------------------------------------------------------------- Markdown

# Backslash-escaped in Markdown text: what would start code, emphasis, a link, strikethrough or
# a table cell. `_` only at the edge of a word: CommonMark never reads `hot_dog` as emphasis.
_MENTION = re.compile(r"(?<![\w&])(?:@|#(?=\d))")
_MARKDOWN = re.compile(r"[\\`*~\[\]|]|(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])")


def markdown_text(value: Any) -> str:
    """`value` as Markdown text that shows exactly as written, also inside a table cell: HTML
    as entities (`<img>` -> `&lt;img&gt;`, and `@`, `#`; GitHub renders no raw HTML), Markdown's
    punctuation backslash-escaped, line breaks as spaces (a newline ends a table row). Hand-
    written: markdown-it and Python-Markdown render Markdown but have no escaper."""
    # `@name` and `#123` (where GitHub reads them: not after a letter or digit) as entities
    # too: gate.md is posted as a PR comment, where they would notify people or link issues
    text = _MENTION.sub(lambda m: f"&#{ord(m.group(0))};", html.escape(str(value), quote=False))
    return _MARKDOWN.sub(lambda m: "\\" + m.group(0), re.sub(r"[\r\n\t\v\f]+", " ", text))


_PLAIN_CODE = re.compile(r"[^`<>&|\r\n]*")


def markdown_code(value: Any) -> str:
    """`value` as inline code when that shows it exactly (no backtick, `<>&`, `|` or line
    break: a code span shows entities literally and its `|` still splits a table row), as
    `markdown_text` otherwise."""
    text = str(value)
    return f"`{text}`" if text and _PLAIN_CODE.fullmatch(text) else markdown_text(text)


# ---------------------------------------------------------------- dotted names


def dotted(nested: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """`{"train": {"epochs": 3}}` -> `{"train.epochs": 3}`: every leaf by its dotted path
    (lists are leaves)."""
    flat: dict[str, Any] = {}
    for key, value in nested.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(dotted(value, prefix=f"{name}."))
        else:
            flat[name] = value
    return flat


def epoch_metric_name(keras_name: str) -> str:
    """Keras' per-epoch log name -> the name classlens gives it in the training history and in
    MLflow, so that no training number shadows a test one: `loss` -> `train/loss`,
    `val_accuracy` -> `val/accuracy`; `learning_rate` (a setting, not a measurement) and names
    already namespaced stay as they are."""
    if "/" in keras_name or keras_name in ("learning_rate", "epoch", "phase"):
        return keras_name
    if keras_name.startswith("val_"):
        return "val/" + keras_name[len("val_"):]
    return "train/" + keras_name
