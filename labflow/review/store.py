"""The review store: drafts, immutable confirmed annotation versions, and the audit trail.

Tables live in the catalog database (SQLite by default, Postgres by URL). A person's edits are a
**draft** (one per run and author, freely overwritten). **Confirming** turns the draft into version
``n + 1`` of the run's annotation, but only if the person started from version ``n``: the check and
the write are one conditional ``UPDATE`` of the run's review row, so of two people confirming from
the same base exactly one wins, whatever the database. The other gets :class:`ConfirmConflict`
saying what changed; their annotation stays as their draft, so nothing is lost.

Versions are numbered per run and also carry a global, increasing ``id``: the confirmations
sensor reads them past its cursor (an outbox; the app only ever writes this database).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint, delete, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from labflow.review.annotations import Annotation, describe_changes
from labflow.store.catalog import Base, Catalog, RunNotFound, RunReviewRow, RunRow, UTCDateTime

AUDIT_ACTIONS = ("open", "mark", "edit_peaks", "edit_intervals", "preview_params", "save_draft",
                 "discard_draft", "confirm", "reject", "conflict")


class AnnotationVersionRow(Base):
    __tablename__ = "annotation_versions"
    __table_args__ = (UniqueConstraint("run_key", "version", name="uq_annotation_version"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    run_key: Mapped[str] = mapped_column(ForeignKey("runs.run_key", ondelete="CASCADE"), index=True)
    version: Mapped[int]
    base_version: Mapped[int]
    author: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    verdict: Mapped[str] = mapped_column(String(40))
    body: Mapped[dict[str, Any]] = mapped_column(JSON)
    changes: Mapped[list[str]] = mapped_column(JSON)


class AnnotationDraftRow(Base):
    __tablename__ = "annotation_drafts"

    run_key: Mapped[str] = mapped_column(ForeignKey("runs.run_key", ondelete="CASCADE"), primary_key=True)
    author: Mapped[str] = mapped_column(String(200), primary_key=True)
    base_version: Mapped[int]
    body: Mapped[dict[str, Any]] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class AuditRow(Base):
    __tablename__ = "annotation_audit"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    run_key: Mapped[str] = mapped_column(ForeignKey("runs.run_key", ondelete="CASCADE"))
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(40))
    details: Mapped[dict[str, Any]] = mapped_column(JSON)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    summary: Mapped[str] = mapped_column(Text, default="")


Index("ix_annotation_audit_run", AuditRow.run_key, AuditRow.id)


@dataclass(frozen=True)
class AnnotationVersion:
    """One confirmed, immutable annotation of a run."""

    id: int
    run_key: str
    version: int
    base_version: int
    author: str
    created_at: datetime
    annotation: Annotation
    changes: list[str]


@dataclass(frozen=True)
class Draft:
    """A person's unconfirmed edits of a run, started from ``base_version``."""

    run_key: str
    author: str
    base_version: int
    annotation: Annotation
    updated_at: datetime


@dataclass(frozen=True)
class AuditEntry:
    """Who did what to a run, and when."""

    run_key: str
    actor: str
    action: str
    summary: str
    details: dict[str, Any]
    at: datetime


class ConfirmConflict(RuntimeError):
    """The run was confirmed by someone else since the version this confirmation started from."""

    def __init__(self, run_key: str, base_version: int, head: AnnotationVersion, their_changes: list[str]):
        changed = "; ".join(their_changes) or "no visible change"
        super().__init__(
            f"run {run_key} was confirmed as version {head.version} by {head.author} at "
            f"{head.created_at:%Y-%m-%d %H:%M:%S} UTC while you were editing version {base_version}. "
            f"Their changes: {changed}. Your edits are kept as your draft: reload the run, review, and confirm again."
        )
        self.run_key = run_key
        self.base_version = base_version
        self.head = head
        self.their_changes = their_changes


class ReviewStore:
    """Drafts, confirmed versions and the audit trail of runs, in the catalog database."""

    def __init__(self, catalog: Catalog):
        self.catalog = catalog
        catalog.create_tables()

    # -- drafts --------------------------------------------------------------------------------
    def save_draft(self, run_key: str, author: str, annotation: Annotation, *, base_version: int,
                   action: str = "save_draft", summary: str = "", details: dict[str, Any] | None = None) -> Draft:
        """Keep ``annotation`` as ``author``'s draft of the run and record ``action`` in the audit trail."""
        author = _author(author)
        now = _utcnow()
        row = dict(run_key=run_key, author=author, base_version=base_version,
                   body=annotation.model_dump(mode="json"), updated_at=now)
        with self.catalog.begin() as session:
            self._require_run(session, run_key)
            session.merge(AnnotationDraftRow(**row))
            self.catalog.mark_needs_review(session, run_key)
            _audit(session, run_key, author, action, summary, details or {}, now)
        return Draft(run_key, author, base_version, annotation, now)

    def get_draft(self, run_key: str, author: str) -> Draft | None:
        """``author``'s draft of the run, or ``None``."""
        with self.catalog.session() as session:
            row = session.get(AnnotationDraftRow, (run_key, _author(author)))
            return None if row is None else _draft(row)

    def discard_draft(self, run_key: str, author: str) -> None:
        """Drop ``author``'s draft of the run (recorded in the audit trail)."""
        author = _author(author)
        with self.catalog.begin() as session:
            session.execute(delete(AnnotationDraftRow).where(AnnotationDraftRow.run_key == run_key,
                                                             AnnotationDraftRow.author == author))
            _audit(session, run_key, author, "discard_draft", "draft discarded", {}, _utcnow())

    def record(self, run_key: str, actor: str, action: str, summary: str = "",
               details: dict[str, Any] | None = None) -> None:
        """Add one entry to the run's audit trail (e.g. ``open`` or ``preview_params``)."""
        with self.catalog.begin() as session:
            self._require_run(session, run_key)
            _audit(session, run_key, _author(actor), action, summary, details or {}, _utcnow())

    # -- confirmation --------------------------------------------------------------------------
    def confirm(self, run_key: str, author: str, annotation: Annotation, *, base_version: int,
                at: datetime | None = None) -> AnnotationVersion:
        """Make ``annotation`` version ``base_version + 1`` of the run, or raise :class:`ConfirmConflict`.

        A verdict that rejects the run (invalid, failed experiment) is recorded as a ``reject`` action.
        ``at`` (default now) is only for importing history recorded elsewhere.
        """
        author = _author(author)
        now = at or _utcnow()
        previous = self.get_version(run_key, base_version) if base_version else None
        changes = describe_changes(previous.annotation if previous else None, annotation)
        status = "confirmed" if annotation.accepted else "rejected"
        with self.catalog.begin() as session:
            self._require_run(session, run_key)
            session.execute(self.catalog.insert(RunReviewRow).values(
                run_key=run_key, review_status="new", head_version=0, updated_at=now,
            ).on_conflict_do_nothing(index_elements=["run_key"]))
            moved = session.execute(
                update(RunReviewRow)
                .where(RunReviewRow.run_key == run_key, RunReviewRow.head_version == base_version)
                .values(head_version=base_version + 1, review_status=status, updated_at=now)
            ).rowcount
            if moved == 1:
                row = AnnotationVersionRow(run_key=run_key, version=base_version + 1, base_version=base_version,
                                           author=author, created_at=now, verdict=annotation.verdict,
                                           body=annotation.model_dump(mode="json"), changes=changes)
                session.add(row)
                session.execute(delete(AnnotationDraftRow).where(AnnotationDraftRow.run_key == run_key,
                                                                 AnnotationDraftRow.author == author))
                action = "confirm" if annotation.accepted else "reject"
                _audit(session, run_key, author, action, f"version {base_version + 1}: " + "; ".join(changes),
                       {"version": base_version + 1, "verdict": annotation.verdict}, now)
                session.flush()
                return _version(row)
        raise self._conflict(run_key, author, annotation, base_version)

    def _conflict(self, run_key: str, author: str, annotation: Annotation, base_version: int) -> ConfirmConflict:
        head = self.latest_version(run_key)
        assert head is not None, "a conflict needs a newer version"
        base = self.get_version(run_key, base_version) if base_version else None
        their_changes = describe_changes(base.annotation if base else None, head.annotation)
        self.save_draft(run_key, author, annotation, base_version=base_version, action="conflict",
                        summary=f"confirmation refused: version {head.version} by {head.author} came first",
                        details={"head_version": head.version, "base_version": base_version})
        return ConfirmConflict(run_key, base_version, head, their_changes)

    # -- reading -------------------------------------------------------------------------------
    def latest_version(self, run_key: str) -> AnnotationVersion | None:
        """The run's newest confirmed annotation, or ``None``."""
        query = (select(AnnotationVersionRow).where(AnnotationVersionRow.run_key == run_key)
                 .order_by(AnnotationVersionRow.version.desc()).limit(1))
        with self.catalog.session() as session:
            row = session.scalars(query).first()
            return None if row is None else _version(row)

    def get_version(self, run_key: str, version: int) -> AnnotationVersion | None:
        """Version ``version`` of the run's annotation, or ``None``."""
        query = select(AnnotationVersionRow).where(AnnotationVersionRow.run_key == run_key,
                                                   AnnotationVersionRow.version == version)
        with self.catalog.session() as session:
            row = session.scalars(query).first()
            return None if row is None else _version(row)

    def history(self, run_key: str) -> list[AnnotationVersion]:
        """Every confirmed version of the run, oldest first."""
        query = (select(AnnotationVersionRow).where(AnnotationVersionRow.run_key == run_key)
                 .order_by(AnnotationVersionRow.version))
        with self.catalog.session() as session:
            return [_version(row) for row in session.scalars(query)]

    def latest_versions(self) -> list[AnnotationVersion]:
        """The newest confirmed version of every run that has one, ordered by run key."""
        query = (select(AnnotationVersionRow)
                 .join(RunReviewRow, (RunReviewRow.run_key == AnnotationVersionRow.run_key)
                       & (RunReviewRow.head_version == AnnotationVersionRow.version))
                 .order_by(AnnotationVersionRow.run_key))
        with self.catalog.session() as session:
            return [_version(row) for row in session.scalars(query)]

    def versions_after(self, after_id: int, *, limit: int = 1000) -> list[AnnotationVersion]:
        """Confirmed versions with ``id > after_id``, in id order: the outbox the sensor reads."""
        query = (select(AnnotationVersionRow).where(AnnotationVersionRow.id > after_id)
                 .order_by(AnnotationVersionRow.id).limit(limit))
        with self.catalog.session() as session:
            return [_version(row) for row in session.scalars(query)]

    def audit_trail(self, run_key: str) -> list[AuditEntry]:
        """Every recorded action on the run, oldest first."""
        query = select(AuditRow).where(AuditRow.run_key == run_key).order_by(AuditRow.id)
        with self.catalog.session() as session:
            return [AuditEntry(r.run_key, r.actor, r.action, r.summary, r.details, r.at)
                    for r in session.scalars(query)]

    @staticmethod
    def _require_run(session: Session, run_key: str) -> None:
        if session.get(RunRow, run_key) is None:
            raise RunNotFound(run_key)


def _audit(session: Session, run_key: str, actor: str, action: str, summary: str,
           details: dict[str, Any], at: datetime) -> None:
    if action not in AUDIT_ACTIONS:
        raise ValueError(f"unknown audit action {action!r}; use one of {', '.join(AUDIT_ACTIONS)}")
    session.add(AuditRow(run_key=run_key, actor=actor, action=action, summary=summary, details=details, at=at))


def _author(author: str) -> str:
    author = (author or "").strip()
    if not author:
        raise ValueError("say who you are: an annotation needs an author name")
    return author[:200]


def _version(row: AnnotationVersionRow) -> AnnotationVersion:
    return AnnotationVersion(row.id, row.run_key, row.version, row.base_version, row.author, row.created_at,
                             Annotation.model_validate(row.body), list(row.changes))


def _draft(row: AnnotationDraftRow) -> Draft:
    return Draft(row.run_key, row.author, row.base_version, Annotation.model_validate(row.body), row.updated_at)


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)
