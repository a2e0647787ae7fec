"""The namespace's content policy, applied to a write tool's arguments before the tool runs.

Every text argument of a call that writes is scanned (see athena_mcp.governance). Under `refuse` a
finding refuses the call, naming the field; under `redact` secrets are replaced in the arguments, so
the tool never sees them; under `flag` the call goes ahead. Either way the answer notes what was
found, so the agent knows what it stored.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from athena_mcp.governance import Policy, parse_policies, redact, scan
from athena_mcp.settings import Settings

# Names, not text: a namespace is checked by its own pattern, and scanning it would only find noise.
_NOT_TEXT = frozenset({"namespace"})


@dataclass(frozen=True)
class Screened:
    """What the policy made of a call: the arguments to run it with, or why it is refused."""

    arguments: dict[str, Any]
    refusal: str | None = None
    notes: list[str] = field(default_factory=list)


class ContentPolicy:
    def __init__(self, settings: Settings) -> None:
        self.default: Policy = settings.content_policy  # type: ignore[assignment]
        self.overrides = parse_policies(settings.namespace_policies)

    def policy_for(self, namespace: str) -> Policy:
        return self.overrides.get(namespace, self.default)

    def screen(self, arguments: Mapping[str, Any], namespace: str) -> Screened:
        policy = self.policy_for(namespace)
        found = [(path, finding) for path, text in _texts(arguments) if (finding := scan(text))]
        if not found:
            return Screened(dict(arguments))
        if policy == "refuse":
            path, finding = found[0]
            return Screened(
                dict(arguments),
                refusal=(
                    f"{path}: carries {finding.describe()}, and namespace '{namespace}' refuses such "
                    "writes (its content policy). Leave it out: store where a secret is kept (a vault "
                    "path), not the secret; describe an instruction rather than quoting it."
                ),
            )
        notes = []
        screened = _redacted(arguments) if policy == "redact" else dict(arguments)
        for path, finding in found:
            if policy == "redact" and finding.secret_kinds:
                notes.append(f"{path}: secret ({', '.join(finding.secret_kinds)}) redacted before storing")
            if "instruction" in finding.flags:
                notes.append(
                    f"{path}: reads like an instruction to the model; stored, and flagged in answers"
                )
            elif policy == "flag":
                notes.append(
                    f"{path}: carries a secret ({', '.join(finding.secret_kinds)}); stored, and flagged "
                    "in answers (forget it if it was a mistake)"
                )
        return Screened(screened, notes=notes)


def _texts(value: Any, path: str = "") -> list[tuple[str, str]]:
    """Every text in the arguments with its path (events[2].content), names excluded."""
    if isinstance(value, str):
        return [(path, value)]
    if isinstance(value, Mapping):
        return [
            found
            for key, item in value.items()
            if key not in _NOT_TEXT
            for found in _texts(item, f"{path}.{key}" if path else str(key))
        ]
    if isinstance(value, list):
        return [found for index, item in enumerate(value) for found in _texts(item, f"{path}[{index}]")]
    return []


def _redacted(value: Any, key: str = "") -> Any:
    """A copy of the arguments with every secret in their texts redacted (names kept)."""
    if isinstance(value, str):
        return value if key in _NOT_TEXT else redact(value)
    if isinstance(value, Mapping):
        return {k: _redacted(item, k) for k, item in value.items()}
    if isinstance(value, list):
        return [_redacted(item) for item in value]
    return value
