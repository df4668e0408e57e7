"""Check the house size rules in a package: files <= 400 lines, function bodies <= 80 lines.

A function's body runs from its first statement (the docstring included) to its last line, as
``ast`` reports them; nested functions count inside their parent and are checked on their own.

    python scripts/check_sizes.py [PACKAGE_DIR]      # default: genoattn/ beside this script

Prints one line per violation and exits 1 if there is any, else 0.
"""

from __future__ import annotations

import ast
import sys
from dataclasses import dataclass
from pathlib import Path

MAX_FILE_LINES = 400
MAX_BODY_LINES = 80


@dataclass(frozen=True)
class Violation:
    path: Path
    what: str  # "file" or the function's qualified name
    lines: int
    limit: int

    def __str__(self) -> str:
        name = "" if self.what == "file" else f" {self.what}"
        kind = "file" if self.what == "file" else "function body"
        return f"{self.path}:{name} {kind} has {self.lines} lines (limit {self.limit})"


def _functions(tree: ast.AST, prefix: str = ""):
    """(qualified name, node) of every function and method, nested ones included."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            yield prefix + node.name, node
            yield from _functions(node, f"{prefix}{node.name}.")
        elif isinstance(node, ast.ClassDef):
            yield from _functions(node, f"{prefix}{node.name}.")
        else:
            yield from _functions(node, prefix)


def body_lines(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    """Lines from the first statement of the body to the function's last line."""
    return fn.end_lineno - fn.body[0].lineno + 1


def check_file(path: Path) -> list[Violation]:
    text = path.read_text()
    out = []
    n = len(text.splitlines())
    if n > MAX_FILE_LINES:
        out.append(Violation(path, "file", n, MAX_FILE_LINES))
    for name, fn in _functions(ast.parse(text, filename=str(path))):
        b = body_lines(fn)
        if b > MAX_BODY_LINES:
            out.append(Violation(path, name, b, MAX_BODY_LINES))
    return out


def check_tree(root: Path) -> list[Violation]:
    return [v for p in sorted(root.rglob("*.py")) for v in check_file(p)]


def main(argv: list[str]) -> int:
    root = Path(argv[0]) if argv else Path(__file__).resolve().parents[1] / "genoattn"
    found = check_tree(root)
    for v in found:
        print(v)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
