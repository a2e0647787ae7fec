"""README stays true: its commands are the ones CI runs, and it documents every tool and setting."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from athena_mcp.settings import Settings, env_var, setting_fields
from athena_mcp.tools.surface import TOOLSETS

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text("utf-8")


def readme_commands() -> list[str]:
    return re.findall(r"```sh\n(.+?)\n```", README)


def test_readme_opens_with_the_install_and_test_commands_and_ci_runs_the_test_one():
    install, test = readme_commands()[:2]
    assert install.endswith(".venv/bin/athena-mcp")
    assert test.endswith("python -m pytest")
    assert test in (ROOT / ".ci" / "run").read_text("utf-8").splitlines()


def test_every_tool_is_documented():
    names = {spec.fn.__name__ for toolset in TOOLSETS.values() for spec in toolset.specs()}
    assert names
    for name in names:
        assert f"`{name}`" in README, f"README does not document the tool {name}"


def test_every_setting_is_documented_and_in_help():
    help_text = subprocess.run(
        [sys.executable, "-m", "athena_mcp", "--help"], capture_output=True, text=True, check=True, timeout=60
    ).stdout
    for field in setting_fields():
        flag = f"--{field.name.replace('_', '-')}"
        assert f"`{flag}`" in README and f"`{env_var(field.name)}`" in README, field.name
        assert flag in help_text


def test_settings_come_from_flags_over_environment_over_defaults(tmp_path):
    settings = Settings.load(
        {"db": str(tmp_path / "flag.db"), "port": None},
        {"ATHENA_DB": "/ignored.db", "ATHENA_PORT": "9000", "ATHENA_TOOLSETS": "episodic"},
    )
    assert (
        settings.db == tmp_path / "flag.db" and settings.port == 9000 and settings.toolsets == ("episodic",)
    )
    assert Settings.load({}, {}).transport == "stdio"


def test_bad_settings_are_refused_naming_the_setting():
    for flags, needle in [
        ({"port": "http"}, "port"),
        ({"toolsets": "graphs"}, "toolsets"),
        ({"embedder": "http"}, "embedding-dim"),
        ({"transport": "carrier-pigeon"}, "transport"),
    ]:
        with pytest.raises(ValueError, match=needle):
            Settings.load(flags, {})
