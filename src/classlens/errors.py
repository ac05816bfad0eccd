"""Errors a user can act on. The CLI prints them as one line and exits 2 (no traceback)."""


class ClassLensError(Exception):
    """Base class: the message names the file or key, what was expected, and what to do."""


class ConfigError(ClassLensError):
    """`params.yaml` / `conf/` does not match the schema."""


class InputError(ClassLensError):
    """A stage input (file or folder) is missing or unusable."""


class Constraint:
    """What one config value must be: a test, and the words for it after "must" ("be one of
    [...]"). `classlens.config.constraints` keys one per dotted path and checks them at load
    time; a library function that takes such a value from a direct caller may `check` the same
    constraint (imported from the package that owns the value) rather than repeat it."""

    def __init__(self, accepts, expected: str):
        self.accepts = accepts
        self.expected = expected

    def check(self, key: str, value, *, source: str = "") -> None:
        """Raise `ConfigError` (one line naming `key`, what is accepted, what was received)."""
        if not self.accepts(value):
            where = f"{source}: key '{key}'" if source else key
            raise ConfigError(f"{where} must {self.expected}; received {value!r}")


def one_of(accepted) -> Constraint:
    accepted = tuple(accepted)
    return Constraint(lambda value: value in accepted, f"be one of {list(accepted)}")


def in_range(low: float, high: float) -> Constraint:
    """Both ends inclusive."""
    return Constraint(lambda value: low <= value <= high, f"be in [{low}, {high}]")
