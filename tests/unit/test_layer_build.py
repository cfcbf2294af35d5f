"""The layer as Lambda loads it: light (no boto3/botocore of its own) and warm (bytecode).

The checker is tested on small layers made here; the layer `make build` produced, when
there is one, is checked as well (`make test` builds it first).
"""

from __future__ import annotations

import py_compile
import subprocess
import sys
from pathlib import Path

import pytest

from scripts.check_layer import layer_problems
from tests.unit.builders import ROOT

BUILT_LAYER = ROOT / ".aws-sam" / "build" / "CommonLayer"
# The header of an ELF shared object: e_machine at offset 18 (0xB7 aarch64, 0x3E x86_64).
_ELF = b"\x7fELF" + bytes(14)


def _module(python_dir: Path, relative: str, mode: py_compile.PycInvalidationMode) -> None:
    source = python_dir / relative
    source.parent.mkdir(parents=True, exist_ok=True)
    source.write_text("VALUE = 1\n", encoding="utf-8")
    # A .pyc named for the runtime's interpreter, whatever interpreter runs the test.
    compiled = source.parent / "__pycache__" / f"{source.stem}.cpython-313.pyc"
    py_compile.compile(str(source), cfile=str(compiled), invalidation_mode=mode, doraise=True)


def _layer(tmp_path: Path, *modules: str) -> Path:
    for relative in modules or ("bluegreen/__init__.py",):
        _module(tmp_path / "python", relative, py_compile.PycInvalidationMode.UNCHECKED_HASH)
    return tmp_path


def test_a_layer_with_unchecked_hash_bytecode_and_no_sdk_passes(tmp_path: Path) -> None:
    layer = _layer(tmp_path, "bluegreen/__init__.py", "pydantic/main.py", "typing_extensions.py")
    (layer / "python" / "pydantic_core").mkdir()
    (layer / "python" / "pydantic_core" / "_core.so").write_bytes(_ELF + b"\xb7\x00")

    assert layer_problems(layer) == []


def test_a_layer_carrying_botocore_or_the_xray_sdk_is_refused(tmp_path: Path) -> None:
    layer = _layer(tmp_path, "botocore/__init__.py", "aws_xray_sdk/__init__.py")
    (layer / "python" / "boto3-1.40.0.dist-info").mkdir()

    problems = layer_problems(layer)

    assert "ships botocore (the runtime's is used)" in problems
    assert "ships aws_xray_sdk (the runtime's is used)" in problems
    assert "ships boto3-1.40.0.dist-info (the runtime's is used)" in problems


def test_a_module_without_bytecode_for_the_runtime_is_refused(tmp_path: Path) -> None:
    layer = _layer(tmp_path)
    (layer / "python" / "bluegreen" / "wiring.py").write_text("X = 1\n", encoding="utf-8")

    assert layer_problems(layer) == ["bluegreen/wiring.py: no wiring.cpython-313.pyc"]


def test_timestamp_bytecode_is_refused_since_zip_extraction_loses_the_mtimes(
    tmp_path: Path,
) -> None:
    _module(tmp_path / "python", "jinja2/__init__.py", py_compile.PycInvalidationMode.TIMESTAMP)

    assert layer_problems(tmp_path) == [
        "jinja2/__init__.py: __init__.cpython-313.pyc is not unchecked-hash bytecode"
    ]


def test_a_native_extension_for_another_architecture_is_refused(tmp_path: Path) -> None:
    layer = _layer(tmp_path)
    (layer / "python" / "markupsafe").mkdir()
    (layer / "python" / "markupsafe" / "_speedups.so").write_bytes(_ELF + b"\x3e\x00")

    assert layer_problems(layer) == ["markupsafe/_speedups.so: not an aarch64 ELF library"]


def test_handlers_import_without_the_xray_sdk_or_a_tracer() -> None:
    """The layer carries no X-Ray SDK: no handler may import it, even indirectly."""
    handlers = sorted(str(p) for p in (ROOT / "functions").glob("*/app.py"))
    script = (
        "import importlib.util, sys\n"
        "sys.modules['aws_xray_sdk'] = None  # importing it now raises ImportError\n"
        "for i, path in enumerate(sys.argv[1:]):\n"
        "    spec = importlib.util.spec_from_file_location(f'app{i}', path)\n"
        "    spec.loader.exec_module(importlib.util.module_from_spec(spec))\n"
    )
    env = {
        "PYTHONPATH": str(ROOT / "layers" / "common"),
        "AWS_DEFAULT_REGION": "us-east-1",
        "POWERTOOLS_SERVICE_NAME": "bluegreen",
        "POWERTOOLS_METRICS_NAMESPACE": "bluegreen",
    }
    done = subprocess.run(
        [sys.executable, "-c", script, *handlers], env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert len(handlers) == 18


@pytest.mark.skipif(not BUILT_LAYER.is_dir(), reason="no built layer: run `make build`")
def test_the_built_layer_is_light_and_warm() -> None:
    assert layer_problems(BUILT_LAYER) == []
