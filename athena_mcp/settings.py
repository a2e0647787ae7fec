"""The one place configuration is read: defaults, environment variables and CLI flags.

Every setting is a field of the frozen `Settings` with a default and help text. Its environment
variable is `ATHENA_<NAME>` and its flag `--<name>` (underscores as dashes); a flag beats the
environment, which beats the default. `athena-mcp --help` lists them all from this table.
"""

from __future__ import annotations

import dataclasses
import functools
import ipaddress
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import platformdirs

from athena_mcp.governance import POLICIES, parse_policies
from athena_mcp.logs import LOG_FORMATS

TOOLSETS = ("core", "semantic", "episodic", "consolidation", "procedural", "prospective", "meta", "graph")
ALL_TOOLSETS = "all"
TRANSPORTS = ("stdio", "http")
EMBEDDERS = ("minilm", "minilm-torch", "http")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
SYNCHRONOUS_MODES = ("full", "normal")
# What a namespace's name may hold (fields.Namespace checks it at the tool boundary).
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:/@-]*$"


def default_db_path() -> Path:
    return Path(platformdirs.user_data_dir("athena-mcp", appauthor=False)) / "athena.db"


MODEL_CACHE_OFF = "off"


def default_model_cache() -> str:
    return platformdirs.user_cache_dir("athena-mcp", appauthor=False)


def default_hook_log() -> str:
    return str(Path(platformdirs.user_log_dir("athena-mcp", appauthor=False)) / "hooks.log")


def _setting(default: Any, help: str, *, choices: tuple[str, ...] | None = None, secret: bool = False) -> Any:
    metadata = {"help": help, "choices": choices, "secret": secret}
    if callable(default):
        return field(default_factory=default, metadata=metadata)
    return field(default=default, metadata=metadata)


@dataclass(frozen=True)
class Settings:
    db: Path = _setting(default_db_path, "SQLite database file (created if missing).")  # noqa: RUF009
    transport: str = _setting(
        "stdio", "MCP transport: stdio for editors, http for streamable HTTP.", choices=TRANSPORTS
    )
    host: str = _setting("127.0.0.1", "Address the HTTP transport binds to.")
    port: int = _setting(8765, "Port of the HTTP transport.")
    http_token: str = _setting(
        "",
        "Bearer token HTTP clients must send (Authorization: Bearer TOKEN); required when --host is not "
        "a loopback address, optional on loopback.",
        secret=True,
    )
    http_token_file: str = _setting(
        "", "File holding the HTTP bearer token (keeps it out of the process list and the environment)."
    )
    token_file: str = _setting(
        "",
        "File of named HTTP tokens, each bound to namespaces and to read or write (`athena-mcp token add`); "
        "re-read when it changes. Kept as SHA-256 digests, never the tokens themselves.",
    )
    namespaces: tuple[str, ...] = _setting(
        (),
        "Comma-separated namespaces this server lets its callers use; unset: any. HTTP tokens are "
        "limited to these too.",
    )
    trusted_proxies: tuple[str, ...] = _setting(
        (),
        "Comma-separated addresses (or networks) of reverse proxies whose X-Forwarded-For names the "
        "client; unset: the header is ignored and the connecting address is the client.",
    )
    http_allowed_hosts: tuple[str, ...] = _setting(
        (),
        "Comma-separated Host header values the HTTP transport accepts besides loopback names and the "
        "--host address (DNS rebinding protection); required when --host is 0.0.0.0 or ::.",
    )
    http_allowed_origins: tuple[str, ...] = _setting(
        (),
        "Comma-separated browser origins allowed to call the HTTP transport besides localhost ones "
        "(e.g. https://app.example.com, or http://host:* for any port); requests without Origin pass.",
    )
    # mcp's own default: a batch of large events fits; a client cannot make the server buffer more.
    http_max_body: int = _setting(
        4 * 1024 * 1024, "Largest HTTP request body in bytes; a larger one is refused with 413."
    )
    explorer_writes: bool = _setting(
        False,
        "Whether the memory explorer (/ui, athena-mcp explore) may forget memories; read-only otherwise.",
    )
    http_open_probes: bool = _setting(
        False,
        "Whether /health, /ready and /metrics answer clients on this machine without the bearer token "
        "(others still need it).",
    )
    http_rate: float = _setting(
        20.0, "HTTP requests per second each client address may sustain (429 beyond); 0 turns the limit off."
    )
    http_burst: int = _setting(
        60, "HTTP requests a client address may make at once before --http-rate applies."
    )
    toolsets: tuple[str, ...] = _setting(
        ("core",),
        "Comma-separated toolsets every session starts with: core (the default dozen tools, and a "
        "memory_status tool that turns the others on per session), semantic, episodic, consolidation, "
        "procedural, prospective, graph, or all.",
    )
    log_level: str = _setting("INFO", "Log level; logs go to stderr.", choices=LOG_LEVELS)
    log_format: str = _setting(
        "text",
        "Log lines as text for people, or json for collectors: one object per line, each line of a tool "
        "call with its request id (X-Request-Id over HTTP), tool and namespace.",
        choices=LOG_FORMATS,
    )
    embedder: str = _setting(
        "minilm",
        "minilm: local all-MiniLM-L6-v2 on CPU (ONNX Runtime); minilm-torch: the same model through "
        "sentence-transformers (the torch extra); http: an OpenAI-compatible /embeddings endpoint "
        "(Ollama, vLLM, OpenAI).",
        choices=EMBEDDERS,
    )
    embedding_url: str = _setting("http://127.0.0.1:11434/v1", "Base URL of the HTTP embeddings endpoint.")
    embedding_model: str = _setting("", "Model name sent to the HTTP embeddings endpoint.")
    embedding_dim: int = _setting(
        0, "Vector size of the HTTP embedding model (required with --embedder http)."
    )
    embedding_api_key: str = _setting("", "Bearer token for the HTTP embeddings endpoint.", secret=True)
    embedding_timeout: float = _setting(
        30.0,
        "Seconds an embedding request may take before the write is stored without a vector (computed later).",
    )
    embedding_load_wait: float = _setting(
        20.0,
        "Seconds a call that needs the embedding model waits for it to finish loading; past that, "
        "search goes lexical-only and writes get their vectors (and near-duplicate check) later.",
    )
    model_cache: str = _setting(
        default_model_cache,
        "Folder where the local embedding model, prepared once for this machine, is kept: later starts "
        "map its weights instead of rebuilding them (faster, 100+ MB less memory); `off` to build it "
        "in memory at every start.",
    )
    # 16: small batches are fastest for the local model on a 2-core CPU (padding and cache pressure
    # grow with the batch): 134 texts/s against 97 at 64, 145 at 8 (PRODUCTION_READINESS.md).
    embedding_batch_size: int = _setting(16, "Texts per embedding batch (per request for --embedder http).")
    near_duplicate_threshold: float = _setting(
        0.92, "Cosine similarity at which remember reports a near-duplicate fact."
    )
    busy_timeout: float = _setting(
        30.0, "Seconds a write waits for another process's write lock before failing with a retryable error."
    )
    synchronous: str = _setting(
        "full",
        "SQLite synchronous mode: full survives power loss, normal only process crashes.",
        choices=SYNCHRONOUS_MODES,
    )
    backlog_interval: float = _setting(
        2.0, "Seconds between passes of the background vector backlog and entity linking workers."
    )
    trigger_interval: float = _setting(
        1.0, "Seconds between passes of the trigger worker, which fires due reminders and event triggers."
    )
    max_active_triggers: int = _setting(
        200, "Active triggers a namespace may hold; create_trigger is refused beyond."
    )
    max_pending_firings: int = _setting(
        1000,
        "Fired items a namespace may hold undismissed; its triggers wait (nothing is lost) until some "
        "are dismissed.",
    )
    max_firings_per_pass: int = _setting(
        200, "Firings one trigger pass may record per namespace; the rest fire on the next passes."
    )
    consolidation_interval: float = _setting(
        300.0, "Seconds between background consolidation runs; 0 runs it only on request."
    )
    community_interval: float = _setting(
        60.0,
        "Seconds between background passes that recompute the graph communities of namespaces whose "
        "graph changed; 0 recomputes them only on request.",
    )
    consolidation_vector_wait: float = _setting(
        10.0,
        "Seconds a consolidate call waits for the vectors of events it could take in (computed in the "
        "background after the model loads); past that it takes in what has them and says what waits.",
    )
    consolidation_settle: float = _setting(
        600.0,
        "Seconds a session must be quiet (no new event) before consolidation takes it in; a session "
        "whose last event carries an outcome is taken in at once.",
    )
    compaction_age_days: float = _setting(
        30.0, "Days after which consolidated low-value events may be compacted into their session digest."
    )
    compaction_retention_days: float = _setting(
        30.0, "Days a compaction stays reversible before the compacted events are deleted."
    )
    flashbulb_importance: float = _setting(0.9, "Events at or above this importance are never compacted.")
    graph_expansion: bool = _setting(
        False,
        "Whether recall also brings in memories that mention the entities (or rare names) its best "
        "results mention; recall's expand_graph argument overrides it per call.",
    )
    content_policy: str = _setting(
        "flag",
        "What a write carrying instruction-like text or a secret gets: flag (stored, marked in answers), "
        "redact (secrets replaced before storing, instructions flagged) or refuse.",
        choices=POLICIES,
    )
    namespace_policies: str = _setting(
        "", "Per-namespace content policies overriding content_policy, e.g. work=refuse,notes=redact."
    )
    backup_dir: str = _setting(
        "", "Folder for scheduled backups of the database; empty: none are taken (see `athena-mcp backup`)."
    )
    backup_interval_hours: float = _setting(24.0, "Hours between scheduled backups (with --backup-dir).")
    backup_keep: int = _setting(7, "Scheduled backups kept; the oldest are deleted past this many.")
    working_memory_size: int = _setting(
        7, "Memories a session's working memory holds (7±2): the least active leave past it."
    )
    hook_namespace: str = _setting(
        "",
        "Namespace the editor hooks read and write; empty: derived from the project (its git remote "
        "as owner/repo, else the repository's or working directory's folder name).",
    )
    hook_server_name: str = _setting(
        "athena",
        "The name this server was added under in the editor (`claude mcp add NAME`): hooks know its tool "
        "calls by it (mcp__NAME__recall) and take them as what the agent recalled or changed, not as events.",
    )
    hook_min_score: float = _setting(
        0.5,
        "Least calibrated relevance a memory needs for the UserPromptSubmit hook to show it beside a "
        "prompt; most prompts then add nothing.",
    )
    hook_prompt_tokens: int = _setting(500, "Most tokens the UserPromptSubmit hook adds to a prompt.")
    hook_briefing_tokens: int = _setting(1500, "Most tokens of the SessionStart hook's briefing.")
    hook_channel: bool = _setting(
        True,
        "Whether the server answers the editor hooks of its database over a private local socket "
        "(fast: its model and indexes are loaded); off, each hook opens the store itself.",
    )
    hook_log: str = _setting(
        default_hook_log, "File the editor hooks log to (they never write to the editor on failure)."
    )

    def __post_init__(self) -> None:
        unknown = sorted(set(self.toolsets) - {*TOOLSETS, ALL_TOOLSETS})
        if unknown or not self.toolsets:
            raise ValueError(
                f"toolsets: unknown {unknown or 'empty list'}; choose from {', '.join(TOOLSETS)} or all"
            )
        if ALL_TOOLSETS in self.toolsets:
            object.__setattr__(self, "toolsets", TOOLSETS)
        if self.embedder == "http" and (not self.embedding_model or self.embedding_dim <= 0):
            raise ValueError(
                "embedder http needs --embedding-model and --embedding-dim (ATHENA_EMBEDDING_MODEL, "
                "ATHENA_EMBEDDING_DIM)"
            )
        if self.embedding_load_wait < 0:
            raise ValueError("embedding_load_wait must be 0 or more seconds")
        if not 0 < self.near_duplicate_threshold <= 1:
            raise ValueError("near_duplicate_threshold must be in (0, 1]")
        if min(
            self.consolidation_interval,
            self.consolidation_settle,
            self.consolidation_vector_wait,
            self.compaction_age_days,
        ) < 0 or (self.compaction_retention_days < 0 or not 0 < self.flashbulb_importance <= 1):
            raise ValueError(
                "consolidation_interval, consolidation_settle, consolidation_vector_wait, "
                "compaction_age_days and compaction_retention_days must be 0 or more; "
                "flashbulb_importance in (0, 1]"
            )
        parse_policies(self.namespace_policies)
        if self.community_interval < 0:
            raise ValueError("community_interval must be 0 or more")
        if self.trigger_interval <= 0:
            raise ValueError("trigger_interval must be positive")
        if min(self.max_active_triggers, self.max_pending_firings, self.max_firings_per_pass) < 1:
            raise ValueError(
                "max_active_triggers, max_pending_firings and max_firings_per_pass must be positive"
            )
        for proxy in self.trusted_proxies:
            try:
                ipaddress.ip_network(proxy, strict=False)
            except ValueError:
                raise ValueError(
                    f"trusted_proxies: {proxy!r} is not an IP address or network (e.g. 127.0.0.1, 10.0.0.0/8)"
                ) from None
        if self.http_max_body < 1 or self.http_rate < 0 or self.http_burst < 1:
            raise ValueError("http_max_body and http_burst must be positive, http_rate 0 or more")
        if self.backup_interval_hours <= 0 or self.backup_keep < 1:
            raise ValueError("backup_interval_hours must be positive and backup_keep at least 1")
        if not 1 <= self.working_memory_size <= 50:
            raise ValueError("working_memory_size must be in [1, 50]")
        if not self.hook_server_name or "__" in self.hook_server_name:
            raise ValueError(
                "hook_server_name must be the server's name as the editor knows it, without '__'"
            )
        if not 0 <= self.hook_min_score <= 1:
            raise ValueError("hook_min_score must be in [0, 1]")
        if not 50 <= self.hook_prompt_tokens <= 8000 or not 100 <= self.hook_briefing_tokens <= 8000:
            raise ValueError("hook_prompt_tokens must be in [50, 8000], hook_briefing_tokens in [100, 8000]")
        if self.embedding_batch_size < 1 or self.busy_timeout <= 0 or self.embedding_timeout <= 0:
            raise ValueError("embedding_batch_size, busy_timeout and embedding_timeout must be positive")

    @classmethod
    def load(cls, flags: Mapping[str, Any] | None = None, env: Mapping[str, str] | None = None) -> Settings:
        """Build settings from CLI flags (already parsed) over environment variables over defaults."""
        flags = flags or {}
        env = env or {}
        values: dict[str, Any] = {}
        for f in dataclasses.fields(cls):
            raw = flags.get(f.name)
            if raw is None:
                raw = env.get(env_var(f.name))
            if raw is None or raw == "":
                continue
            try:
                values[f.name] = _parser(f)(raw)
            except ValueError as exc:
                raise ValueError(f"{f.name}: cannot use {raw!r}: {exc}") from None
            choices = f.metadata["choices"]
            if choices and values[f.name] not in choices:
                raise ValueError(f"{f.name}: {raw!r} is not one of {', '.join(choices)}")
        return cls(**values)


def env_var(name: str) -> str:
    return f"ATHENA_{name.upper()}"


def setting_fields() -> tuple[dataclasses.Field[Any], ...]:
    return dataclasses.fields(Settings)


def _parser(f: dataclasses.Field[Any]) -> Callable[[Any], Any]:
    """How a flag's or variable's text becomes the field's value, by the field's declared type."""
    return _PARSERS[_field_types()[f.name]]


@functools.cache
def _field_types() -> dict[str, Any]:
    # The annotations are strings (postponed evaluation); resolve them to the types themselves.
    return typing.get_type_hints(Settings)


def _path(raw: Any) -> Path:
    return Path(raw).expanduser()


def _names(raw: Any) -> tuple[str, ...]:
    return tuple(part.strip() for part in str(raw).split(",") if part.strip())


def _boolean(raw: Any) -> bool:
    if isinstance(raw, bool):
        return raw
    value = str(raw).strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise ValueError("use true or false")


_PARSERS: dict[Any, Callable[[Any], Any]] = {
    Path: _path,
    int: int,
    float: float,
    str: str,
    bool: _boolean,
    tuple[str, ...]: _names,
}


def offers(settings: Settings, toolset: str) -> bool:
    """Whether a session can use `toolset`: it is on, or core is (core turns the others on)."""
    return toolset in settings.toolsets or "core" in settings.toolsets
