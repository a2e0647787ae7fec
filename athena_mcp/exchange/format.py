"""The export format, version 1: its header, the check of each line on import, and its JSON Schema.

A file is JSON Lines in UTF-8. The first line is the header; every other line is one record: a JSON
object whose "type" names its record type and whose other fields are the columns of that type's
table, named as the table names them. Records come in the order of the record types
(store/exchange.py), which puts what a record refers to before it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from athena_mcp import __version__
from athena_mcp.errors import InvalidInput
from athena_mcp.store.exchange import RECORD_TYPES, RECORD_TYPES_BY_NAME, Column, RecordType, Selection

FORMAT = "athena-mcp-export"
VERSION = 1
_SQLITE_INTEGERS = range(-(2**63), 2**63)


def header(schema_version: int, selection: Selection) -> dict[str, Any]:
    return {
        "type": "header",
        "format": FORMAT,
        "version": VERSION,
        "schema_version": schema_version,
        "athena_mcp": __version__,
        "exported_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "selection": selection.describe(),
    }


def checked_header(number: int, text: str, schema_version: int) -> dict[str, Any]:
    """The header on line `number`, or InvalidInput saying why this is no export this build reads."""
    data = _json_object(number, text)
    if data.get("type") != "header" or data.get("format") != FORMAT:
        raise InvalidInput(f"line {number}: not an athena-mcp export (its first line must be the header)")
    version = data.get("version")
    if not isinstance(version, int) or version > VERSION:
        raise InvalidInput(
            f"line {number}: format version {version!r}; this athena-mcp reads version {VERSION} and older: "
            "upgrade athena-mcp to import it"
        )
    if not isinstance(data.get("schema_version"), int) or data["schema_version"] > schema_version:
        raise InvalidInput(
            f"line {number}: exported from a store at schema {data.get('schema_version')!r}; this "
            f"athena-mcp knows schema {schema_version}: upgrade athena-mcp to import it"
        )
    return data


def checked_record(
    number: int, text: str, columns_by_type: Mapping[str, list[Column]]
) -> tuple[RecordType, dict[str, Any]]:
    """The record on line `number` with its type, or InvalidInput naming the line, field and rule."""
    data = _json_object(number, text)
    name = data.pop("type", None)
    record_type = RECORD_TYPES_BY_NAME.get(name) if isinstance(name, str) else None
    if record_type is None:
        raise InvalidInput(
            f"line {number}: unknown record type {name!r}; a record's 'type' is one of "
            f"{', '.join(RECORD_TYPES_BY_NAME)}"
        )
    columns = {column.name: column for column in columns_by_type[record_type.name]}
    unknown = sorted(set(data) - set(columns))
    if unknown:
        raise InvalidInput(f"line {number}: {record_type.name} has no field {', '.join(map(repr, unknown))}")
    for column in columns.values():
        problem = _problem(column, data)
        if problem:
            raise InvalidInput(f"line {number}: {record_type.name} field '{column.name}' {problem}")
    return record_type, data


def _json_object(number: int, text: str) -> dict[str, Any]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidInput(f"line {number}: not JSON ({exc.msg} at column {exc.colno})") from None
    if not isinstance(data, dict):
        raise InvalidInput(f"line {number}: a record is a JSON object, not {type(data).__name__}")
    return data


def _problem(column: Column, data: Mapping[str, Any]) -> str | None:
    if column.name not in data:
        return "is missing" if column.required else None
    value = data[column.name]
    if value is None:
        return None if column.nullable else "must not be null"
    if isinstance(value, bool):
        return f"must be {_described[column.json_type]}, not true or false"
    if column.json_type == "string":
        if not isinstance(value, str):
            return f"must be {_described['string']}"
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return "holds a lone surrogate (\\ud800-\\udfff), which is no text"
    if column.json_type == "integer" and not (isinstance(value, int) and value in _SQLITE_INTEGERS):
        return f"must be {_described['integer']}"
    if column.json_type == "number" and not (
        isinstance(value, float) or (isinstance(value, int) and value in _SQLITE_INTEGERS)
    ):
        return f"must be {_described['number']}"
    return None


_described = {
    "string": "a string",
    "integer": "a 64-bit integer",
    "number": "a number (an integer within 64 bits)",
}


def json_schema(columns_by_type: Mapping[str, list[Column]]) -> dict[str, Any]:
    """The JSON Schema of one line of an export (draft 2020-12)."""
    definitions: dict[str, Any] = {
        "header": {
            "description": "The first line: what wrote the file and what it holds.",
            "type": "object",
            "properties": {
                "type": {"const": "header"},
                "format": {"const": FORMAT},
                "version": {"const": VERSION},
                "schema_version": {"type": "integer", "description": "the store's schema migration"},
                "athena_mcp": {"type": "string", "description": "the version that wrote it"},
                "exported_at": {"type": "string", "format": "date-time"},
                "selection": {
                    "type": "object",
                    "description": "namespaces (null: all), systems, and the time range [since, until) "
                    "in seconds since the epoch",
                },
            },
            "required": ["type", "format", "version", "schema_version"],
        }
    }
    for record_type in RECORD_TYPES:
        columns = columns_by_type[record_type.name]
        properties: dict[str, Any] = {"type": {"const": record_type.name}}
        for column in columns:
            properties[column.name] = {
                "type": [column.json_type, "null"] if column.nullable else column.json_type
            }
        definitions[record_type.name] = {
            "description": f"{record_type.description} One row of the table {record_type.table}.",
            "type": "object",
            "properties": properties,
            "required": ["type", *(column.name for column in columns if column.required)],
            "additionalProperties": False,
        }
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": f"One line of an athena-mcp export, format {VERSION}",
        "description": __doc__.split("\n\n", 1)[1].replace("\n", " ").strip(),
        "oneOf": [{"$ref": f"#/$defs/{name}"} for name in definitions],
        "$defs": definitions,
    }
