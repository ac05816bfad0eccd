"""Errors a user can act on. The CLI prints them as one line and exits 2 (no traceback)."""


class ClassLensError(Exception):
    """Base class: the message names the file or key, what was expected, and what to do."""


class ConfigError(ClassLensError):
    """`params.yaml` / `conf/` does not match the schema."""


class InputError(ClassLensError):
    """A stage input (file or folder) is missing or unusable."""
