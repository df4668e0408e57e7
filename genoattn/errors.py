"""The project's error type: a user mistake, reported by the CLI as one line and exit code 2."""

from __future__ import annotations

from pathlib import Path


class GenoattnError(Exception):
    """A problem with the user's input or request.

    The message names the file (when there is one) and says what is wrong and, where it helps,
    what to do. The CLI prints ``error: <message>`` and exits with code 2; nothing else catches it.
    """

    def __init__(self, message: str, path: str | Path | None = None):
        self.path = None if path is None else Path(path)
        self.problem = message
        super().__init__(f"{path}: {message}" if path is not None else message)


def require_file(path: str | Path) -> Path:
    """Return ``path`` as a Path if it is an existing, non-empty file, else raise GenoattnError."""
    p = Path(path)
    if not p.exists():
        raise GenoattnError("file not found", p)
    if p.is_dir():
        raise GenoattnError("is a directory, expected a file", p)
    if p.stat().st_size == 0:
        raise GenoattnError("file is empty", p)
    return p
