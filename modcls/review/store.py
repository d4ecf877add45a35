"""The review queue on SQLAlchemy Core: SQLite (default, one file, WAL) or PostgreSQL (several servers).

Paragraphs routed to ``review`` or ``urgent_review`` are enqueued with their article id, scores, route and
priority. A reviewer takes the next item by priority (most severe first, then oldest) and holds it on a
lease; an expired lease puts the item back in line. A decision confirms the model's labels or corrects the
topic and the categories, with an optional note, and is kept for export as training data.

Every change is one transaction, committed before the call returns: an answer the server has sent is on
disk. Enqueueing is idempotent: the same paragraph of the same article (same id, position and text) is
stored once, so a client may retry a request safely.
"""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import (
    JSON,
    Column,
    Connection,
    DateTime,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    and_,
    create_engine,
    event,
    func,
    insert,
    inspect,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import IntegrityError

from ..errors import ModclsError
from ..labels import CATEGORIES, PRIORITIES, ROUTES, LabelError, check_category, check_topic
from ..results import ParagraphResult

#: Environment variable naming the queue database (a SQLAlchemy URL or a file path).
DB_ENV = "MODCLS_REVIEW_DB"
DEFAULT_LEASE_SECONDS = 600
DECISIONS = ("confirm", "correct")
#: Orders of the line within a priority level: most severe then oldest, or closest to a threshold first.
ORDERS = ("severity", "uncertainty")
SCHEMA_VERSION = "2"
#: Columns added since schema 1 (added in place to a schema-1 database when it is opened).
_ADDED_COLUMNS = ("evidence", "context", "margin")

metadata = MetaData()

items = Table(
    "modcls_review_items",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("dedup_key", String(64), nullable=False, unique=True),
    Column("article_id", String(256), nullable=False, index=True),
    Column("paragraph_id", String(256)),
    Column("paragraph_index", Integer, nullable=False),
    Column("text", Text, nullable=False),
    Column("topic", String(32), nullable=False),
    Column("topic_scores", JSON, nullable=False),
    Column("sensitivity", JSON, nullable=False),
    Column("flags", JSON, nullable=False),
    Column("reasons", JSON, nullable=False),
    Column("route", String(16), nullable=False),
    Column("priority", String(8), nullable=False),
    Column("rank", Integer, nullable=False),
    Column("model_version", String(200), nullable=False),
    Column("created_at", DateTime, nullable=False),
    Column("status", String(8), nullable=False),
    Column("lease_owner", String(200)),
    Column("lease_expires", DateTime),
    Column("leases", Integer, nullable=False, default=0),
    Column("decision", String(8)),
    Column("decided_topic", String(32)),
    Column("decided_sensitivity", JSON),
    Column("note", Text),
    Column("reviewer", String(200)),
    Column("decided_at", DateTime, index=True),
    # schema 2: the evidence sentences, the paragraph's article context, the distance to the nearest threshold
    Column("evidence", JSON),
    Column("context", JSON),
    Column("margin", Float),
    Index("ix_modcls_review_line", "status", "rank", "id"),
    sqlite_autoincrement=True,  # ids are never reused: exported rows are named after them
)

meta_table = Table(
    "modcls_review_meta",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", String(200), nullable=False),
)


class ReviewError(ModclsError, ValueError):
    """A review request that cannot be carried out as given (bad decision, unknown label)."""


class NotFound(ReviewError):
    """No item with that id."""


class Conflict(ReviewError):
    """The item is not in a state that allows this (decided, or leased to someone else)."""


@dataclass
class ReviewItem:
    """One queued paragraph, its model output, its lease and (once decided) the reviewer's labels.

    ``evidence``: the sentences that carry each flag (``Evidence.to_dict``-like dicts); ``context``: the
    article around the paragraph (``headline``, ``before`` and ``after``: neighbouring paragraphs as
    ``{"index", "text"}``); ``margin``: how close the scores sit to their thresholds (smallest
    ``|score - threshold|`` over the categories; None when the thresholds were not given).
    """

    id: int
    article_id: str
    paragraph_id: str | None
    paragraph_index: int
    text: str
    topic: str
    topic_scores: dict[str, float]
    sensitivity: dict[str, float]
    flags: list[str]
    reasons: list[str]
    route: str
    priority: str
    model_version: str
    created_at: datetime
    status: str
    lease_owner: str | None = None
    lease_expires: datetime | None = None
    leases: int = 0
    decision: str | None = None
    decided_topic: str | None = None
    decided_sensitivity: dict[str, int] | None = None
    note: str | None = None
    reviewer: str | None = None
    decided_at: datetime | None = None
    evidence: list[dict[str, Any]] = field(default_factory=list)
    context: dict[str, Any] | None = None
    margin: float | None = None

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        for key in ("created_at", "lease_expires", "decided_at"):
            data[key] = data[key].isoformat() if data[key] else None
        return data

    @classmethod
    def from_row(cls, row: Any) -> ReviewItem:
        data = {k: v for k, v in row._mapping.items() if k not in ("dedup_key", "rank")}
        data["evidence"] = data.get("evidence") or []
        for key in ("created_at", "lease_expires", "decided_at"):
            if data[key] is not None:
                data[key] = _aware(data[key])
        return cls(**data)


def queue_url(value: str | Path | None = None) -> str:
    """A SQLAlchemy URL from a URL, a file path (SQLite), ``$MODCLS_REVIEW_DB``, or the default file.

    The default is ``$MODCLS_HOME/review.sqlite`` (``~/.cache/modcls/review.sqlite``).
    """
    value = value if value not in (None, "") else os.environ.get(DB_ENV) or None
    if value is None:
        from ..base_encoder import modcls_home

        value = modcls_home() / "review.sqlite"
    value = str(value)
    if "://" in value:
        return value
    return f"sqlite:///{Path(value).expanduser().resolve()}"


class ReviewQueue:
    """The queue of paragraphs awaiting review, in a SQLite file or a PostgreSQL database.

    >>> queue = ReviewQueue("review.sqlite")                       # or "postgresql://user@host/db"
    >>> queue.enqueue(moderator.moderate(text).paragraphs, article_id="a1", model_version="m")
    >>> item = queue.next("alice")                                 # leased to alice
    >>> queue.decide(item.id, "alice", "correct", topic="politics", categories=[])
    """

    def __init__(
        self,
        url: str | Path | None = None,
        *,
        lease_seconds: int = DEFAULT_LEASE_SECONDS,
        clock: Callable[[], datetime] | None = None,
        order: str = "severity",
    ) -> None:
        self.url = queue_url(url)
        self.lease_seconds = int(lease_seconds)
        self.order = _check_order(order)
        self._clock = clock or (lambda: datetime.now(UTC))
        self.engine = _make_engine(self.url)
        self.dialect = self.engine.dialect.name
        self._create_schema()

    # -- set-up -----------------------------------------------------------------------------------
    def _create_schema(self) -> None:
        for _ in range(3):  # several processes may create the schema at once
            try:
                metadata.create_all(self.engine)
                with self._begin() as conn:
                    known = {r.key for r in conn.execute(select(meta_table.c.key))}
                    wanted = {"schema_version": SCHEMA_VERSION, "queue_id": uuid.uuid4().hex[:8]}
                    missing = [{"key": k, "value": v} for k, v in wanted.items() if k not in known]
                    if missing:
                        conn.execute(insert(meta_table), missing)
                break
            except IntegrityError:
                continue
        with self._begin() as conn:
            values = dict(conn.execute(select(meta_table.c.key, meta_table.c.value)).all())
        if values.get("schema_version") == "1":
            self._upgrade_from_1()
            values["schema_version"] = SCHEMA_VERSION
        if values.get("schema_version") != SCHEMA_VERSION:
            raise ReviewError(f"review database {self.safe_url} has schema {values.get('schema_version')!r}, "
                              f"this modcls expects {SCHEMA_VERSION!r}")
        #: A short random name of this queue, part of exported row ids so that queues never clash.
        self.queue_id: str = values["queue_id"]

    def _upgrade_from_1(self) -> None:
        """Schema 1 -> 2: add the evidence, context and margin columns (existing items keep them empty)."""
        with self._begin() as conn:
            present = {c["name"] for c in inspect(conn).get_columns(items.name)}
            for name in _ADDED_COLUMNS:
                if name not in present:
                    kind = items.c[name].type.compile(dialect=self.engine.dialect)
                    conn.exec_driver_sql(f"ALTER TABLE {items.name} ADD COLUMN {name} {kind}")
            conn.execute(update(meta_table).where(meta_table.c.key == "schema_version")
                         .values(value=SCHEMA_VERSION))

    @property
    def safe_url(self) -> str:
        """The URL with any password hidden, for messages and logs."""
        return self.engine.url.render_as_string(hide_password=True)

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> ReviewQueue:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _begin(self) -> Iterator[Connection]:
        with self.engine.begin() as conn:
            yield conn

    def _now(self) -> datetime:
        return _naive(self._clock())

    def ping(self) -> None:
        """Raise if the database cannot be reached."""
        with self.engine.connect() as conn:
            conn.execute(text("SELECT 1"))

    # -- enqueue ----------------------------------------------------------------------------------
    def enqueue(
        self,
        results: Sequence[ParagraphResult],
        *,
        article_id: str,
        model_version: str,
        paragraph_ids: Sequence[str | None] | None = None,
        thresholds: Mapping[str, float] | None = None,
        headline: str | Sequence[str | None] | None = None,
        headline_index: int | None = None,
    ) -> list[int]:
        """Store the results routed to review (others are skipped); return their item ids, in order.

        ``paragraph_ids`` gives the caller's id of each result (same order). A paragraph already queued
        for the same article, position and text is not stored twice: its existing id is returned.
        ``results`` are taken as the article, in order: each item keeps its neighbouring paragraphs, and
        ``headline`` (one text, or one per result) with ``headline_index`` (its position among the
        results, if it is one of them). ``thresholds``: the category thresholds in force, from which each
        item's ``margin`` (the uncertainty order) is computed.
        """
        if paragraph_ids is not None and len(paragraph_ids) != len(results):
            raise ReviewError("paragraph_ids must give one id per result")
        headlines = list(headline) if headline is not None and not isinstance(headline, str) else \
            [headline] * len(results)
        if len(headlines) != len(results):
            raise ReviewError("headline must give one text, or one per result")
        now = self._now()
        rows = []
        for k, r in enumerate(results):
            if r.route == "allow":
                continue
            pid = paragraph_ids[k] if paragraph_ids is not None else None
            rows.append({
                "dedup_key": _dedup_key(article_id, pid, r.index, r.text),
                "article_id": article_id,
                "paragraph_id": pid,
                "paragraph_index": r.index,
                "text": r.text,
                "topic": r.topic,
                "topic_scores": dict(r.topic_scores),
                "sensitivity": dict(r.sensitivity),
                "flags": list(r.flags),
                "reasons": list(r.reasons),
                "route": r.route,
                "priority": r.priority,
                "rank": _rank(r.route, r.priority),
                "model_version": model_version,
                "created_at": now,
                "status": "pending",
                "leases": 0,
                "evidence": [asdict(e) for e in r.evidence],
                "context": _context(results, k, headlines[k], headline_index),
                "margin": _margin(r.sensitivity, thresholds),
            })
        if not rows:
            return []
        keys = [r["dedup_key"] for r in rows]
        for attempt in range(3):
            try:
                with self._begin() as conn:
                    known = dict(conn.execute(select(items.c.dedup_key, items.c.id)
                                              .where(items.c.dedup_key.in_(keys))).all())
                    fresh = [r for r in rows if r["dedup_key"] not in known]
                    if fresh:
                        conn.execute(insert(items), fresh)
                        known.update(conn.execute(select(items.c.dedup_key, items.c.id)
                                                  .where(items.c.dedup_key.in_(keys))).all())
                return [known[k] for k in keys]
            except IntegrityError:  # another process stored the same paragraph meanwhile: look again
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    # -- leasing ----------------------------------------------------------------------------------
    def next(
        self, reviewer: str, lease_seconds: int | None = None, order: str | None = None
    ) -> ReviewItem | None:
        """Lease the most urgent available item to ``reviewer``; None when nothing waits.

        Within a priority level, ``order`` (default: the queue's) ``severity`` takes the oldest first,
        ``uncertainty`` the item whose scores sit closest to their thresholds (what a reviewer's decision
        teaches the model most), then the oldest. A reviewer who already holds a live lease gets that item
        back (its lease renewed), so a retried call never takes a second item.
        """
        reviewer = _check_reviewer(reviewer)
        keys = [items.c.rank.desc()]
        if _check_order(order or self.order) == "uncertainty":
            keys += [items.c.margin.is_(None), items.c.margin]
        for _ in range(10):
            now = self._now()
            expires = now + timedelta(seconds=lease_seconds or self.lease_seconds)
            with self._begin() as conn:
                held = (select(items.c.id)
                        .where(items.c.status == "leased", items.c.lease_owner == reviewer,
                               items.c.lease_expires > now)
                        .order_by(items.c.rank.desc(), items.c.id).limit(1))
                item_id = conn.execute(held).scalar()
                if item_id is not None:
                    conn.execute(update(items).where(items.c.id == item_id).values(lease_expires=expires))
                    return self._get(conn, item_id)
                line = select(items.c.id).where(_available(now)).order_by(*keys, items.c.id).limit(1)
                if self.dialect == "postgresql":
                    line = line.with_for_update(skip_locked=True)
                item_id = conn.execute(line).scalar()
                if item_id is None:
                    return None
                taken = conn.execute(
                    update(items).where(items.c.id == item_id, _available(now))
                    .values(status="leased", lease_owner=reviewer, lease_expires=expires, leases=items.c.leases + 1)
                )
                if taken.rowcount == 1:
                    return self._get(conn, item_id)
            # another reviewer took it between our read and our write: try the next one
        return None

    def release(self, item_id: int, reviewer: str) -> ReviewItem:
        """Give a leased item back to the line (e.g. the reviewer skips it)."""
        reviewer = _check_reviewer(reviewer)
        with self._begin() as conn:
            item = self._get(conn, item_id)
            self._check_holder(item, reviewer)
            conn.execute(update(items).where(items.c.id == item_id)
                         .values(status="pending", lease_owner=None, lease_expires=None))
            return self._get(conn, item_id)

    # -- decisions --------------------------------------------------------------------------------
    def decide(
        self,
        item_id: int,
        reviewer: str,
        decision: str,
        *,
        topic: str | None = None,
        categories: Sequence[str] | None = None,
        note: str | None = None,
    ) -> ReviewItem:
        """Record ``reviewer``'s decision on an item they hold.

        ``confirm`` keeps the model's topic and flags. ``correct`` sets ``topic`` and/or ``categories``
        (the complete list of categories that apply; ``[]`` for none); what is not given stays as the
        model said.
        """
        reviewer = _check_reviewer(reviewer)
        if decision not in DECISIONS:
            raise ReviewError(f"unknown decision {decision!r}; expected one of: {', '.join(DECISIONS)}")
        try:
            if topic is not None:
                check_topic(topic)
            for c in categories or ():
                check_category(c)
        except LabelError as err:
            raise ReviewError(str(err)) from None
        if decision == "confirm" and (topic is not None or categories is not None):
            raise ReviewError("'confirm' takes no topic or categories; use 'correct' to change them")
        if decision == "correct" and topic is None and categories is None:
            raise ReviewError("'correct' needs a topic, categories, or both")
        with self._begin() as conn:
            item = self._get(conn, item_id, lock=True)
            self._check_holder(item, reviewer)
            flagged = set(categories) if categories is not None else set(item.flags)
            values = {
                "status": "decided",
                "decision": decision,
                "decided_topic": topic or item.topic,
                "decided_sensitivity": {c: int(c in flagged) for c in CATEGORIES},
                "note": note or None,
                "reviewer": reviewer,
                "decided_at": self._now(),
                "lease_expires": None,
            }
            done = conn.execute(update(items).where(items.c.id == item_id, items.c.status == "leased",
                                                    items.c.lease_owner == reviewer).values(**values))
            if done.rowcount != 1:
                raise Conflict(f"item {item_id} changed hands while deciding; fetch it again")
            return self._get(conn, item_id)

    def _check_holder(self, item: ReviewItem, reviewer: str) -> None:
        if item.status == "decided":
            raise Conflict(f"item {item.id} was already decided by {item.reviewer}")
        if item.status != "leased" or item.lease_owner != reviewer:
            if item.status == "leased" and item.lease_expires and item.lease_expires > _aware(self._now()):
                raise Conflict(f"item {item.id} is leased to another reviewer until {item.lease_expires.isoformat()}")
            raise Conflict(f"item {item.id} is not leased to {reviewer}; take it with next first")

    # -- reading ----------------------------------------------------------------------------------
    def get(self, item_id: int) -> ReviewItem:
        with self.engine.connect() as conn:
            return self._get(conn, item_id)

    def _get(self, conn: Connection, item_id: int, lock: bool = False) -> ReviewItem:
        query = select(items).where(items.c.id == item_id)
        if lock and self.dialect == "postgresql":
            query = query.with_for_update()
        row = conn.execute(query).first()
        if row is None:
            raise NotFound(f"no review item {item_id}")
        return ReviewItem.from_row(row)

    def items_for_article(self, article_id: str) -> list[ReviewItem]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(items).where(items.c.article_id == article_id).order_by(items.c.id))
            return [ReviewItem.from_row(r) for r in rows]

    def stats(self) -> dict[str, Any]:
        """Counts by status, waiting items by route and priority, the oldest waiting item's age."""
        now = self._now()
        with self.engine.connect() as conn:
            by_status = dict(conn.execute(select(items.c.status, func.count()).group_by(items.c.status)).all())
            waiting = conn.execute(select(items.c.route, items.c.priority, func.count())
                                   .where(_available(now)).group_by(items.c.route, items.c.priority)).all()
            oldest = conn.execute(select(func.min(items.c.created_at)).where(_available(now))).scalar()
        return {
            "total": sum(by_status.values()),
            "pending": by_status.get("pending", 0),
            "leased": by_status.get("leased", 0),
            "decided": by_status.get("decided", 0),
            "waiting": {f"{route}/{priority}": n for route, priority, n in
                        sorted(waiting, key=lambda r: -_rank(r[0], r[1]))},
            "oldest_waiting_seconds": round((now - oldest).total_seconds(), 1) if oldest else None,
        }

    def report(self, days: int = 14) -> dict[str, Any]:
        """:meth:`stats`, plus decisions per day over the last ``days`` days, decisions per reviewer, and
        how often reviewers agreed with the model: on the topic, and per category (both flagged, model only,
        reviewer only, agreement rate) over every decision.
        """
        out = self.stats()
        now = self._now()
        first = (now - timedelta(days=days - 1)).date()
        per_day = {(first + timedelta(days=d)).isoformat(): 0 for d in range(days)}
        reviewers: dict[str, int] = {}
        cats = {c: {"both": 0, "model_only": 0, "reviewer_only": 0, "neither": 0} for c in CATEGORIES}
        topic_agree = decided = 0
        query = select(items.c.decided_at, items.c.reviewer, items.c.topic, items.c.decided_topic, items.c.flags,
                       items.c.decided_sensitivity).where(items.c.status == "decided")
        with self.engine.connect() as conn:
            for row in conn.execution_options(yield_per=1000).execute(query):
                decided += 1
                day = row.decided_at.date().isoformat()
                if day in per_day:
                    per_day[day] += 1
                reviewers[row.reviewer] = reviewers.get(row.reviewer, 0) + 1
                topic_agree += int(row.topic == row.decided_topic)
                flags = set(row.flags or ())
                for c in CATEGORIES:
                    model, human = c in flags, bool((row.decided_sensitivity or {}).get(c))
                    key = "both" if model and human else "model_only" if model else \
                        "reviewer_only" if human else "neither"
                    cats[c][key] += 1
        for counts in cats.values():
            counts["agreement"] = round((counts["both"] + counts["neither"]) / decided, 4) if decided else None
        out.update(
            decisions_per_day=per_day,
            decisions_by_reviewer=dict(sorted(reviewers.items(), key=lambda kv: -kv[1])),
            agreement={"decisions": decided,
                       "topic": round(topic_agree / decided, 4) if decided else None,
                       "categories": cats},
        )
        return out

    def decisions(self, since: datetime | date | str | None = None) -> Iterator[ReviewItem]:
        """Decided items, oldest decision first, decided at or after ``since`` (UTC when naive)."""
        query = select(items).where(items.c.status == "decided")
        if since is not None:
            query = query.where(items.c.decided_at >= _naive(parse_since(since)))
        query = query.order_by(items.c.decided_at, items.c.id)
        with self.engine.connect() as conn:
            for row in conn.execution_options(yield_per=500).execute(query):
                yield ReviewItem.from_row(row)


def parse_since(value: datetime | date | str) -> datetime:
    """A date (``2025-03-14``) or ISO datetime; naive values are UTC."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            raise ReviewError(f"not a date or ISO datetime: {value!r}") from None
    if isinstance(value, date) and not isinstance(value, datetime):
        value = datetime(value.year, value.month, value.day)
    return _aware(value)


# -- helpers --------------------------------------------------------------------------------------
def _make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        path = url.split(":///", 1)[1] if ":///" in url else ""
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.isolation_level = None  # SQLAlchemy, not the driver, opens transactions
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=FULL")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        @event.listens_for(engine, "begin")
        def _on_begin(conn: Connection) -> None:
            # Take the write lock up front: a read-then-write transaction never fails half-way on a
            # lock upgrade, and two servers cannot lease the same item.
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        # SQLAlchemy's default PostgreSQL driver changed across versions: use whichever is installed.
        import importlib.util

        driver = "psycopg" if importlib.util.find_spec("psycopg") else "psycopg2"
        parsed = parsed.set(drivername=f"postgresql+{driver}")
    return create_engine(parsed, pool_pre_ping=True)


def _check_order(order: str) -> str:
    if order not in ORDERS:
        raise ReviewError(f"unknown review order {order!r}; expected one of: {', '.join(ORDERS)}")
    return order


def _margin(sensitivity: Mapping[str, float], thresholds: Mapping[str, float] | None) -> float | None:
    """Smallest distance of a category's score to its threshold (how uncertain the routing is)."""
    if not thresholds:
        return None
    gaps = [abs(float(sensitivity[c]) - float(t)) for c, t in thresholds.items() if c in sensitivity]
    return round(min(gaps), 6) if gaps else None


def _context(results: Sequence[ParagraphResult], k: int, headline: str | None, headline_index: int | None,
             around: int = 2) -> dict[str, Any]:
    """The article around result ``k``: its headline and up to ``around`` paragraphs on each side."""

    def near(indexes: range) -> list[dict[str, Any]]:
        return [{"index": results[j].index, "text": results[j].text} for j in indexes if j != headline_index]

    return {"headline": headline if headline_index != k else None, "headline_index": headline_index,
            "before": near(range(max(0, k - around), k)),
            "after": near(range(k + 1, min(len(results), k + 1 + around)))}


def _available(now: datetime) -> Any:
    return or_(items.c.status == "pending", and_(items.c.status == "leased", items.c.lease_expires <= now))


def _rank(route: str, priority: str) -> int:
    return ROUTES.index(route) * 10 + PRIORITIES.index(priority)


def _dedup_key(article_id: str, paragraph_id: str | None, index: int, text_: str) -> str:
    return hashlib.sha256(json.dumps([article_id, paragraph_id, index, text_]).encode()).hexdigest()


def _check_reviewer(reviewer: str) -> str:
    if not isinstance(reviewer, str) or not reviewer.strip():
        raise ReviewError("a reviewer name is required")
    if len(reviewer) > 200:
        raise ReviewError("a reviewer name has at most 200 characters")
    return reviewer.strip()


def _naive(moment: datetime) -> datetime:
    """UTC without tzinfo: how times are stored (SQLite keeps no zone)."""
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


def _aware(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
