"""The package's own error types.

Every reader and command raises :class:`ActiongenError` (or a subclass) for bad
input, never a bare ``ValueError``/``KeyError`` with a traceback. The message always
names the file, the line or field where there is one, and the reason.
"""

from __future__ import annotations


class ActiongenError(Exception):
    """Base class for every error this package raises on purpose."""


class FormatError(ActiongenError):
    """A file does not follow its format.

    Attributes:
        path: the file (or folder) at fault.
        line: 1-based line number in that file, or ``None``.
        field: the column or key at fault, or ``None``.
        reason: what is wrong, in words.
    """

    def __init__(self, path, reason, line=None, field=None):
        self.path = str(path)
        self.line = line
        self.field = field
        self.reason = reason
        where = self.path
        if line is not None:
            where += f":{line}"
        if field is not None:
            where += f": field '{field}'"
        super().__init__(f"{where}: {reason}")


class ConfigError(ActiongenError):
    """A configuration value is missing, of the wrong type or out of range."""


class DataError(ActiongenError):
    """Data are valid but unusable for the asked job (too short, no people in a split, ...)."""
