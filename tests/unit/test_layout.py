"""The repository's shape (docs/architecture.md): source roots and layering."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_operator_folder_is_a_source_root_not_a_package() -> None:
    # operator/__init__.py would shadow the standard library's `operator`.
    assert not (ROOT / "operator" / "__init__.py").exists()
    assert not (ROOT / "inference" / "__init__.py").exists()
    assert (ROOT / "operator" / "sigmawatch_operator" / "__init__.py").exists()


def test_stdlib_operator_module_is_the_real_one() -> None:
    import operator

    assert operator.add(2, 3) == 5
    assert not str(Path(operator.__file__ or "")).startswith(str(ROOT / "operator"))


def test_layers_are_enforced_by_import_linter() -> None:
    exe = shutil.which("lint-imports") or str(Path(sys.executable).parent / "lint-imports")
    result = subprocess.run([exe], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "core imports neither kopf nor fastapi" in result.stdout
    assert "only the registry's PostgreSQL package imports the database driver KEPT" in (
        result.stdout
    )
