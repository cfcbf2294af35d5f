"""Checks a built layer (`sam build` output) is light and warm, as Lambda will load it.

Light: no boto3, botocore, s3transfer or X-Ray SDK inside (the runtime's boto3 is used; a
copy in the layer would shadow it and weigh ~30 MB). Warm: every module has bytecode for the
runtime's interpreter, hash-based and unchecked (Lambda's /opt is read-only, so a module
without it is compiled from source at every cold start). Native extensions are built for
the runtime's architecture.

    python scripts/check_layer.py [.aws-sam/build/CommonLayer]
"""

from __future__ import annotations

import sys
from pathlib import Path

FORBIDDEN = ("boto3", "botocore", "s3transfer", "aws_xray_sdk")
CACHE_TAG = "cpython-313"  # the Lambda runtime python3.13
# ELF e_machine of the runtime's architecture (arm64); x86_64 is 0x3E.
ELF_MACHINE = {"aarch64": 0xB7, "x86_64": 0x3E}
ARCHITECTURE = "aarch64"
# PEP 552: flags word of a .pyc; bit 0 = hash-based, bit 1 = check the source.
_HASH_BASED, _CHECK_SOURCE = 0b01, 0b10


def _distribution(name: str) -> str:
    """``aws_xray_sdk-2.15.0.dist-info`` -> ``aws_xray_sdk``."""
    return name.split("-", 1)[0].lower().replace(".", "_")


def forbidden_packages(python_dir: Path) -> list[str]:
    found = []
    for entry in sorted(python_dir.iterdir()):
        stem = entry.name.removesuffix(".py")
        if stem in FORBIDDEN or (entry.suffix == ".dist-info" and _distribution(stem) in FORBIDDEN):
            found.append(entry.name)
    return found


def missing_bytecode(python_dir: Path, cache_tag: str = CACHE_TAG) -> list[str]:
    """Sources without a ``.pyc`` for ``cache_tag`` that Python uses without a stat of them."""
    problems = []
    for source in sorted(python_dir.rglob("*.py")):
        compiled = source.parent / "__pycache__" / f"{source.stem}.{cache_tag}.pyc"
        where = source.relative_to(python_dir)
        if not compiled.is_file():
            problems.append(f"{where}: no {compiled.name}")
            continue
        header = compiled.read_bytes()[:8]
        flags = int.from_bytes(header[4:8], "little") if len(header) == 8 else 0
        if flags & _HASH_BASED == 0 or flags & _CHECK_SOURCE:
            problems.append(f"{where}: {compiled.name} is not unchecked-hash bytecode")
    return problems


def foreign_extensions(python_dir: Path, architecture: str = ARCHITECTURE) -> list[str]:
    """Native extensions not built for ``architecture``."""
    wanted = ELF_MACHINE[architecture]
    problems = []
    for library in sorted(python_dir.rglob("*.so")):
        header = library.read_bytes()[:20]
        machine = int.from_bytes(header[18:20], "little") if header[:4] == b"\x7fELF" else None
        if machine != wanted:
            problems.append(f"{library.relative_to(python_dir)}: not an {architecture} ELF library")
    return problems


def layer_problems(layer_dir: Path) -> list[str]:
    """Everything that makes the built layer at ``layer_dir`` heavy or cold; [] when none."""
    python_dir = layer_dir / "python"
    if not python_dir.is_dir():
        return [f"{layer_dir}: no python/ directory (is it a built layer?)"]
    problems = [f"ships {name} (the runtime's is used)" for name in forbidden_packages(python_dir)]
    problems += missing_bytecode(python_dir)
    problems += foreign_extensions(python_dir)
    return problems


def _size_mb(directory: Path) -> float:
    return sum(f.stat().st_size for f in directory.rglob("*") if f.is_file()) / 1e6


def main(argv: list[str]) -> int:
    layer_dir = Path(argv[1] if len(argv) > 1 else ".aws-sam/build/CommonLayer")
    problems = layer_problems(layer_dir)
    for problem in problems[:50]:
        print(f"{layer_dir}: {problem}", file=sys.stderr)
    if len(problems) > 50:
        print(f"{layer_dir}: ... and {len(problems) - 50} more", file=sys.stderr)
    if problems:
        return 1
    python_dir = layer_dir / "python"
    modules = sum(1 for _ in python_dir.rglob("*.py"))
    print(
        f"{layer_dir}: {_size_mb(layer_dir):.1f} MB, no {'/'.join(FORBIDDEN)}, "
        f"{modules} modules with {CACHE_TAG} unchecked-hash bytecode, {ARCHITECTURE} extensions"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
