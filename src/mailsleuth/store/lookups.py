"""Point reads on SQLite straight through the driver: what polling clients hit, at the cost of one query.

A poll (`GET /contacts/{id}`, a job's status) is one short statement on a primary key. Through the
async stack it costs an aiosqlite thread hop per call (begin, execute, fetch, close) plus SQLAlchemy's
per-execution work, many times the query itself. Here each statement is compiled once into SQL, its
constant parameters and its columns' result processors (SQLAlchemy's own, so timestamps come back
timezone-aware and JSON decoded exactly as the ORM returns them), then run on one read-only sqlite3
connection in the calling thread. Under WAL a reader never waits for the writer, and a single
statement is its own consistent snapshot.

Answers are remembered until the database changes: `PRAGMA data_version` (a few microseconds)
moves whenever any other connection, of this process or another, commits, and then every remembered
answer is forgotten. A client polling a finished job costs no query at all while nothing is written.
Values are remembered processed (timestamps parsed once), except JSON, which is decoded afresh for
every caller: those are the only mutable values, and no caller may alter a remembered answer.
"""

from __future__ import annotations

import sqlite3
from collections import namedtuple
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import JSON, Engine, Select

Processor = Callable[[Any], Any] | None
CACHED_ANSWERS = 4096  # remembered look-ups between two changes of the database (then forgotten)
_MISSING = object()
K = TypeVar("K")
V = TypeVar("V")


class UntilChange(Generic[K, V]):
    """Answers remembered while the database's change counter (`PRAGMA data_version`) stays put:
    when it moves, or `size` answers are held, all are forgotten at once."""

    def __init__(self, size: int = CACHED_ANSWERS) -> None:
        self.size = size
        self._answers: dict[K, V] = {}
        self._version: int | None = None

    def at(self, version: int) -> dict[K, V]:
        """The answers remembered at `version`, for reading and adding to; read `version` before
        computing an answer to add, so none is ever older than the counter it is filed under."""
        if version != self._version or len(self._answers) >= self.size:
            self._answers = {}
            self._version = version
        return self._answers


@dataclass(frozen=True)
class _Prepared:
    sql: str
    template: tuple[Any, ...]  # positional parameters, constants filled in
    slots: tuple[tuple[int, str], ...]  # (position, caller's parameter name)
    processors: tuple[Processor, ...]
    fresh: tuple[int, ...]  # the columns (JSON) processed for every caller: their values are mutable
    row: Any  # a namedtuple class: rows read like SQLAlchemy rows (attribute access)

    def process(self, raw: tuple[Any, ...]) -> tuple[Any, ...]:
        return self.row._make(
            [value if process is None or value is None else process(value)
             for process, value in zip(self.processors, raw)]
        )

    def fresh_copy(self, raw: tuple[Any, ...], processed: tuple[Any, ...]) -> tuple[Any, ...]:
        if not self.fresh:
            return processed
        values = list(processed)
        for index in self.fresh:
            process = self.processors[index]
            if raw[index] is not None and process is not None:
                values[index] = process(raw[index])
        return self.row._make(values)


class Lookups:
    """Prepared point reads on one synchronous read-only connection of `engine` (a pysqlite engine)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._connection: sqlite3.Connection | None = None
        self._prepared: dict[int, tuple[Select[Any], _Prepared]] = {}
        self._answers: UntilChange[tuple[int, tuple[Any, ...]], tuple[tuple[Any, ...], tuple[Any, ...]] | None] = (
            UntilChange()
        )

    def first(self, statement: Select[Any], params: Mapping[str, Any]) -> Any | None:
        """The first row of `statement` with `params` bound, or None."""
        entry = self._prepared.get(id(statement))
        prepared = entry[1] if entry is not None and entry[0] is statement else self._prepare(statement, params)
        values = list(prepared.template)
        for position, name in prepared.slots:
            values[position] = params[name]
        answers = self._answers.at(self.version())
        key = (id(prepared), tuple(values))
        answer = answers.get(key, _MISSING)
        if answer is _MISSING:
            raw = self._driver().execute(prepared.sql, values).fetchone()
            answer = answers[key] = None if raw is None else (raw, prepared.process(raw))
        if answer is None:
            return None
        return prepared.fresh_copy(*answer)  # type: ignore[misc]

    def version(self) -> int:
        """A number that moves whenever any other connection, of any process, commits."""
        return self._driver().execute("PRAGMA data_version").fetchone()[0]

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def _driver(self) -> sqlite3.Connection:
        if self._connection is None:
            # the engine's connect events set the pragmas (query_only, busy timeout); we keep the
            # driver connection for the life of this object
            proxied = self._engine.raw_connection()
            self._connection = proxied.driver_connection
            proxied.detach()
        return self._connection

    def _prepare(self, statement: Select[Any], params: Mapping[str, Any]) -> _Prepared:
        dialect = self._engine.dialect
        compiled = statement.compile(dialect=dialect)
        markers = {name: object() for name in params}
        expanded = compiled.construct_expanded_state(markers)  # type: ignore[arg-type]
        template = tuple(expanded.positional_parameters or ())
        slots = tuple(
            (position, name)
            for position, value in enumerate(template)
            for name, marker in markers.items()
            if value is marker
        )
        if {name for _, name in slots} != set(markers):
            raise ValueError("every parameter of a prepared look-up must be bound as is")
        columns = list(statement.selected_columns)
        processors = tuple(
            column.type.dialect_impl(dialect).result_processor(dialect, None) for column in columns
        )
        fresh = tuple(index for index, column in enumerate(columns) if isinstance(column.type, JSON))
        row = namedtuple("LookupRow", [column.key for column in columns])  # type: ignore[misc]
        prepared = _Prepared(expanded.statement, template, slots, processors, fresh, row)
        self._prepared[id(statement)] = (statement, prepared)
        return prepared
