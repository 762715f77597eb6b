"""The movies table and the database handle shared by the requests of one process."""

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import URL, String, Text, create_engine, func, select, text
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker

TITLE_MAX_LENGTH = 255
# Key of the advisory lock that serialises schema creation: every gunicorn
# worker and every replica starts at the same time and would otherwise race
# on CREATE TABLE (the loser fails on pg_type's unique index).
_SCHEMA_LOCK_KEY = 0x1A7E_0001


class Base(DeclarativeBase):
    pass


class Movie(Base):
    __tablename__ = "movies"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(TITLE_MAX_LENGTH))
    description: Mapped[str] = mapped_column(Text, default="", server_default="")

    def to_dict(self) -> dict[str, object]:
        return {"id": self.id, "title": self.title, "description": self.description}


class Database:
    """Engine, sessions and lazily created schema.

    The schema is created on first use rather than at start-up, so the
    service starts (and reports 503) while its database is still coming up.
    """

    def __init__(self, url: URL | str) -> None:
        # pre_ping replaces connections a database restart has killed, so the
        # first request after a restart succeeds instead of failing once.
        self.engine = create_engine(url, pool_pre_ping=True, connect_args={"connect_timeout": 3})
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._schema_ready = False
        self._schema_lock = threading.Lock()

    def ensure_schema(self) -> None:
        if self._schema_ready:
            return
        with self._schema_lock:
            if self._schema_ready:
                return
            with self.engine.begin() as connection:
                connection.execute(select(func.pg_advisory_xact_lock(_SCHEMA_LOCK_KEY)))
                Base.metadata.create_all(connection)
            self._schema_ready = True

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A session whose work is committed on success and rolled back on error."""
        self.ensure_schema()
        with self._sessions() as session, session.begin():
            yield session

    def ping(self) -> None:
        """Raise if the database does not answer."""
        with self.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
