"""Daily rollups of the catalog, kept by the database itself, so statistics of long periods read a few
rows per day instead of every run.

Three tables count, per UTC day (``YYYY-MM-DD`` text), once in total (``dimension = ''``) and once per
value of each dimension the statistics filter on alone (``instrument``, ``recipe_hash``, ``campaign``;
``''`` for none), so a day holds a few dozen rows however many runs it had:

- ``stats_run_days``: runs by arrival day, status and quality bin (fifth of 0–1, ``-1`` for none), with
  the sum and number of quality scores;
- ``stats_event_days``: ingest events by day and kind;
- ``stats_version_days``: confirmed annotation versions by day and verdict.

Triggers on ``runs``, ``ingest_events`` and ``annotation_versions`` update them in the same transaction
as every write (whichever code writes, bulk inserts included); a change of a run's status, quality,
arrival or dimensions moves its counts. :func:`install` creates the triggers and fills the tables once
from what is already stored (an older catalog). Runs are never deleted by labflow; a deletion by hand
is not counted out.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Column, Float, Integer, MetaData, String, Table, inspect, text

QUALITY_BINS = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)
DIMENSIONS = ("instrument", "recipe_hash", "campaign")
metadata = MetaData()


def _table(name: str, keys: tuple[str, ...], counts: tuple[Column, ...]) -> Table:
    return Table(name, metadata, Column("dimension", String(20), primary_key=True),
                 Column("value", String(200), primary_key=True), Column("day", String(10), primary_key=True),
                 *(Column(k, Integer if k == "quality_bin" else String(40), primary_key=True) for k in keys),
                 *counts)


RUN_DAYS = _table("stats_run_days", ("status", "quality_bin"),
                  (Column("runs", Integer, nullable=False), Column("quality_sum", Float, nullable=False),
                   Column("quality_n", Integer, nullable=False)))
EVENT_DAYS = _table("stats_event_days", ("kind",), (Column("n", Integer, nullable=False),))
VERSION_DAYS = _table("stats_version_days", ("verdict",), (Column("n", Integer, nullable=False),))


def install(connection: Any) -> None:
    """Create the rollup tables and triggers once ``runs``, ``ingest_events`` and ``annotation_versions``
    all exist, filling the rollups from the stored rows in the same transaction (idempotent)."""
    if not set(SOURCES) <= set(inspect(connection).get_table_names()):
        return
    if _has_trigger(connection, "stats_run_days_insert"):
        return
    metadata.create_all(connection)
    dialect = connection.dialect.name
    for sql in _triggers(dialect):
        connection.execute(text(sql))
    refill(connection)


def refill(connection: Any) -> None:
    """Count the rollups again from every stored row (after rows were written with the triggers off, as
    a bulk import on PostgreSQL may do with ``session_replication_role = replica``)."""
    for table in (RUN_DAYS, EVENT_DAYS, VERSION_DAYS):
        connection.execute(table.delete())
    for sql in _fills(connection.dialect.name):
        connection.execute(text(sql))


SOURCES = ("runs", "ingest_events", "annotation_versions")
_CHILDREN = ((EVENT_DAYS, "ingest_events", "detected_at", "kind"),
             (VERSION_DAYS, "annotation_versions", "created_at", "verdict"))


def _has_trigger(connection: Any, name: str) -> bool:
    if connection.dialect.name == "sqlite":
        query = "SELECT 1 FROM sqlite_master WHERE type = 'trigger' AND name = :name"
    else:
        query = "SELECT 1 FROM pg_trigger WHERE tgname = :name"
    return connection.execute(text(query), {"name": name}).first() is not None


# -- SQL per dialect --------------------------------------------------------------------------------
def _day(column: str, dialect: str) -> str:
    if dialect == "sqlite":
        return f"substr({column}, 1, 10)"
    return f"to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD')"


def _quality_bin(score: str) -> str:
    """Which fifth of 0–1 ``score`` falls in (the last includes 1.0); -1 when unknown or outside."""
    whens = []
    for i, (low, high) in enumerate(zip(QUALITY_BINS[:-1], QUALITY_BINS[1:])):
        upper = "<=" if high == 1.0 else "<"
        whens.append(f"WHEN {score} >= CAST({low!r} AS DOUBLE PRECISION) "
                     f"AND {score} {upper} CAST({high!r} AS DOUBLE PRECISION) THEN {i}")
    return f"CASE {' '.join(whens)} ELSE -1 END"


def _cuts(row: str) -> list[str]:
    """``dimension, value`` of each row a run counts in: the total and one per dimension."""
    return ["'', ''", *(f"'{d}', coalesce({row}.{d}, '')" for d in DIMENSIONS)]


def _upsert(table: Table, counts: tuple[str, ...]) -> str:
    """``ON CONFLICT`` adding the new counts to the stored ones."""
    keys = ", ".join(c.name for c in table.primary_key.columns)
    return f" ON CONFLICT ({keys}) DO UPDATE SET " + ", ".join(f"{c} = {table.name}.{c} + excluded.{c}"
                                                               for c in counts)


_RUN_COUNTS = ("runs", "quality_sum", "quality_n")


def _run_row(row: str, sign: str, dialect: str) -> str:
    """Count run ``row`` (``NEW``, or ``OLD`` with ``sign='-'`` to count it out)."""
    known = f"CASE WHEN {row}.quality_score IS NULL THEN 0 ELSE 1 END"
    return "; ".join(
        f"INSERT INTO stats_run_days (dimension, value, day, status, quality_bin, runs, quality_sum, quality_n) "
        f"VALUES ({cut}, {_day(f'{row}.detected_at', dialect)}, {row}.status, {_quality_bin(f'{row}.quality_score')}, "
        f"{sign}1, {sign}coalesce({row}.quality_score, 0), {sign}{known})" + _upsert(RUN_DAYS, _RUN_COUNTS)
        for cut in _cuts(row))


def _moved(table: Table, source: str, moment: str, key: str, row: str, sign: str, dialect: str,
           only_if: str = "TRUE") -> str:
    """Count the rows of ``source`` of run ``row`` with ``row``'s dimensions (out with ``sign='-'``)."""
    day = _day(f"s.{moment}", dialect)
    return "; ".join(
        f"INSERT INTO {table.name} (dimension, value, day, {key}, n) "
        f"SELECT {cut}, {day}, s.{key}, {sign}count(*) FROM {source} s "
        f"WHERE s.run_key = {row}.run_key AND ({only_if}) GROUP BY {day}, s.{key}" + _upsert(table, ("n",))
        for cut in _cuts(row)[1:])  # the total does not move


def _added(table: Table, moment: str, key: str, dialect: str) -> str:
    """Count a new event or version with its run's dimensions."""
    return "; ".join(
        f"INSERT INTO {table.name} (dimension, value, day, {key}, n) "
        f"SELECT {cut}, {_day(f'NEW.{moment}', dialect)}, NEW.{key}, 1 FROM runs r "
        f"WHERE r.run_key = NEW.run_key" + _upsert(table, ("n",)) for cut in _cuts("r"))


_COUNTED = "detected_at, status, quality_score, instrument, recipe_hash, campaign"
_CHANGED = " OR ".join(f"OLD.{d} IS DISTINCT FROM NEW.{d}" for d in DIMENSIONS)


def _triggers(dialect: str) -> list[str]:
    """The triggers (and, on PostgreSQL, their functions) that keep the rollups."""
    if dialect == "sqlite":
        changed = _CHANGED.replace("IS DISTINCT FROM", "IS NOT")
        moves = "".join(f"{_moved(t, s, m, k, row, sign, dialect, changed)}; "
                        for row, sign in (("OLD", "-"), ("NEW", ""))
                        for t, s, m, k in _CHILDREN)
        return [f"CREATE TRIGGER stats_run_days_insert AFTER INSERT ON runs BEGIN {_run_row('NEW', '', dialect)}; END",
                f"CREATE TRIGGER stats_run_days_update AFTER UPDATE OF {_COUNTED} ON runs BEGIN "
                f"{_run_row('OLD', '-', dialect)}; {_run_row('NEW', '', dialect)}; {moves}END",
                *(f"CREATE TRIGGER {t.name}_insert AFTER INSERT ON {s} BEGIN {_added(t, m, k, dialect)}; END"
                  for t, s, m, k in _CHILDREN)]
    moves = "".join(f"{_moved(t, s, m, k, row, sign, dialect)}; " for row, sign in (("OLD", "-"), ("NEW", ""))
                    for t, s, m, k in _CHILDREN)
    runs = (f"IF TG_OP = 'UPDATE' THEN {_run_row('OLD', '-', dialect)}; END IF; {_run_row('NEW', '', dialect)}; "
            f"IF TG_OP = 'UPDATE' AND ({_CHANGED}) THEN {moves}END IF;")
    statements = [_function("stats_run_days_count", runs),
                  "CREATE TRIGGER stats_run_days_insert AFTER INSERT ON runs FOR EACH ROW "
                  "EXECUTE FUNCTION stats_run_days_count()",
                  f"CREATE TRIGGER stats_run_days_update AFTER UPDATE OF {_COUNTED} ON runs FOR EACH ROW "
                  "EXECUTE FUNCTION stats_run_days_count()"]
    for table, source, moment, key in _CHILDREN:
        statements += [_function(f"{table.name}_count", f"{_added(table, moment, key, dialect)};"),
                       f"CREATE TRIGGER {table.name}_insert AFTER INSERT ON {source} FOR EACH ROW "
                       f"EXECUTE FUNCTION {table.name}_count()"]
    return statements


def _function(name: str, body: str) -> str:
    return (f"CREATE OR REPLACE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN {body} "
            "RETURN NULL; END $$")


def _fills(dialect: str) -> list[str]:
    """Count what is already stored."""
    runs = [f"INSERT INTO stats_run_days (dimension, value, day, status, quality_bin, runs, quality_sum, quality_n) "
            f"SELECT {cut}, {_day('r.detected_at', dialect)}, r.status, {_quality_bin('r.quality_score')}, count(*), "
            f"coalesce(sum(r.quality_score), 0), count(r.quality_score) FROM runs r GROUP BY 1, 2, 3, 4, 5"
            for cut in _cuts("r")]
    children = [f"INSERT INTO {t.name} (dimension, value, day, {k}, n) "
                f"SELECT {cut}, {_day(f's.{m}', dialect)}, s.{k}, count(*) FROM {s} s "
                f"JOIN runs r ON r.run_key = s.run_key GROUP BY 1, 2, 3, 4" for t, s, m, k in _CHILDREN
                for cut in _cuts("r")]
    return [*runs, *children]
