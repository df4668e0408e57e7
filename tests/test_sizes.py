"""The house size rules hold in genoattn/ (scripts/check_sizes.py), and the checker catches a
planted violation of each."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _checker():
    spec = importlib.util.spec_from_file_location(
        "check_sizes", ROOT / "scripts" / "check_sizes.py"
    )
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # dataclasses look their module up there
    spec.loader.exec_module(mod)
    return mod


def test_genoattn__no_file_over_400_lines_no_function_body_over_80():
    found = _checker().check_tree(ROOT / "genoattn")
    assert found == [], "\n".join(str(v) for v in found)


def test_check_sizes__catches_a_long_file_and_a_long_method_body(tmp_path):
    cs = _checker()
    head = "class A:\n    def ok(self):\n        return 1\n\n    def f(self):\n        '''doc'''\n"
    body = "".join(f"        x{i} = {i}\n" for i in range(80))  # 80 + the docstring: 81 lines
    (tmp_path / "long_fn.py").write_text(head + body)
    (tmp_path / "long_file.py").write_text("x = 1\n" * 401)
    (tmp_path / "fine.py").write_text("def g():\n" + "    y = 1\n" * 80)  # exactly 80: allowed
    found = cs.check_tree(tmp_path)
    assert [(v.path.name, v.what, v.lines) for v in found] == [
        ("long_file.py", "file", 401),
        ("long_fn.py", "A.f", 81),
    ]
    assert cs.main([str(tmp_path)]) == 1 and cs.main([str(ROOT / "genoattn")]) == 0
