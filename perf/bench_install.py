"""What `pip install` gives a user: the size of a fresh virtual environment and what is in it.

    python -m perf.bench_install [--extra torch] [--keep DIR]

Installs this checkout into a new venv with pip's configuration and local wheel folders switched off
(`PIP_CONFIG_FILE=/dev/null`, no `PIP_FIND_LINKS` or `PIP_CONSTRAINT`), so pip resolves every
package from the package index as on an ordinary machine. Prints the venv's size, its largest
distributions, and whether any CUDA package (torch, triton, nvidia-*) came with it. `--extra torch`
installs the torch extra beside, for the figures before the ONNX embedder (several GB on Linux).
Exits 1 when the default install pulls a CUDA package or passes MAX_DEFAULT_MB.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import venv
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[1]
MAX_DEFAULT_MB = 500
CUDA_PREFIXES = ("nvidia-", "torch", "triton")


def clean_pip_environment() -> dict[str, str]:
    """This environment without whatever points pip at local wheels or pins its choices."""
    environment = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("PIP_") or name in ("PIP_DEFAULT_TIMEOUT", "PIP_CERT")
    }
    return environment | {"PIP_CONFIG_FILE": os.devnull, "PIP_DISABLE_PIP_VERSION_CHECK": "1"}


def install(folder: Path, requirement: str) -> dict[str, object]:
    venv.create(folder, with_pip=True)
    python = folder / "bin" / "python"
    subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", requirement],
        env=clean_pip_environment(),
        check=True,
    )
    listed = subprocess.run(
        [str(python), "-m", "pip", "list", "--format", "json"], capture_output=True, text=True, check=True
    )
    names = sorted(item["name"].lower() for item in json.loads(listed.stdout))
    return {
        "requirement": requirement,
        "venv_mb": folder_mb(folder),
        "distributions": len(names),
        "cuda_packages": [name for name in names if name.startswith(CUDA_PREFIXES)],
        "largest_mb": largest(folder / "lib"),
    }


def folder_mb(folder: Path) -> float:
    return (
        sum(path.stat().st_size for path in folder.rglob("*") if path.is_file() and not path.is_symlink())
        / 2**20
    )


def largest(lib: Path, count: int = 8) -> dict[str, float]:
    [site_packages] = lib.glob("python*/site-packages")
    sizes = {
        entry.name: folder_mb(entry) if entry.is_dir() else entry.stat().st_size / 2**20
        for entry in site_packages.iterdir()
    }
    return {name: round(size, 1) for name, size in sorted(sizes.items(), key=lambda item: -item[1])[:count]}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m perf.bench_install", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "--extra", action="append", default=[], help="also install this extra, in its own venv"
    )
    parser.add_argument("--keep", type=Path, help="make the venvs here and keep them")
    parser.add_argument("--out", type=Path, default=Path("perf/results/install.json"))
    args = parser.parse_args(argv)
    requirements = {"default": str(REPOSITORY), **{extra: f"{REPOSITORY}[{extra}]" for extra in args.extra}}
    report = {}
    with tempfile.TemporaryDirectory(prefix="athena-install-") as scratch:
        base = args.keep or Path(scratch)
        for name, requirement in requirements.items():
            report[name] = install(base / f"venv-{name}", requirement)
            print(name, json.dumps(report[name]), flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    default = report["default"]
    if default["cuda_packages"] or float(default["venv_mb"]) > MAX_DEFAULT_MB:  # type: ignore[arg-type]
        sys.exit(f"the default install is {default['venv_mb']:.0f} MB with {default['cuda_packages']}")


if __name__ == "__main__":
    main()
