"""Orders: the message a billing order arrives as, and the table it ends in."""

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass

import psycopg

# PostgreSQL's integer; business rules (a user id is positive...) are
# api-gateway's, billing-app only refuses what the table cannot hold.
INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1
# Serialises schema creation between replicas starting together, which would
# otherwise race on CREATE TABLE IF NOT EXISTS (pg_type's unique index).
_SCHEMA_LOCK_KEY = 0x0B11_0001

_SCHEMA = (
    # The shape of the original project: its audit reads this table as is.
    """CREATE TABLE IF NOT EXISTS orders (
        id SERIAL PRIMARY KEY,
        user_id INTEGER NOT NULL,
        number_of_items INTEGER NOT NULL,
        total_amount DOUBLE PRECISION NOT NULL
    )""",
    # Message ids already turned into orders, in a side table so orders keeps
    # the original's columns: a redelivered message finds its id here.
    """CREATE TABLE IF NOT EXISTS processed_messages (
        message_id TEXT PRIMARY KEY,
        processed_at TIMESTAMPTZ NOT NULL DEFAULT now()
    )""",
)

# Claiming the id and inserting the order is one statement in one
# transaction: either both happen or neither.  ON CONFLICT DO NOTHING makes a
# concurrent duplicate wait for the first transaction, then insert nothing.
_INSERT_ONCE = """
    WITH claimed AS (
        INSERT INTO processed_messages (message_id) VALUES (%(message_id)s)
        ON CONFLICT DO NOTHING RETURNING message_id
    )
    INSERT INTO orders (user_id, number_of_items, total_amount)
    SELECT %(user_id)s, %(number_of_items)s, %(total_amount)s FROM claimed
"""
# The longest message id accepted (api-gateway's Idempotency-Key limit too).
MAX_MESSAGE_ID_LENGTH = 255


class InvalidMessageError(ValueError):
    """The message can never become an order, however often it is retried."""


class DatabaseUnavailableError(RuntimeError):
    """billing-db cannot be reached now; the orders in hand must be kept and retried."""


class OrderRefusedError(RuntimeError):
    """billing-db answered and refused the data: retrying the same orders cannot help."""


def message_id_of(raw: object) -> str:
    """The message's id as the dedup key, or InvalidMessageError.

    Without an id a redelivered message cannot be recognised, so it would be
    stored twice; an id Postgres cannot hold (NUL, bytes that are not UTF-8:
    pika hands those over as bytes) would fail every retry of its batch.
    """
    if raw is None or raw == "":
        raise InvalidMessageError("no message_id: a redelivery could not be recognised")
    if not isinstance(raw, str):
        raise InvalidMessageError("message_id is not UTF-8 text")
    if "\x00" in raw or len(raw) > MAX_MESSAGE_ID_LENGTH:
        raise InvalidMessageError(f"message_id holds NUL or is longer than {MAX_MESSAGE_ID_LENGTH} characters")
    return raw


def is_data_error(exc: psycopg.Error) -> bool:
    """billing-db refused the data itself (SQLSTATE classes 22 and 23: a value
    it cannot hold, a constraint): the same orders would fail every retry.

    Anything else is the state of the server, the link or the schema (down,
    restarting, a table dropped under us): not the message's fault, so the
    orders are held and retried on a fresh connection, which recreates the
    tables.
    """
    return isinstance(exc, (psycopg.DataError, psycopg.IntegrityError))


@dataclass(frozen=True)
class Order:
    user_id: int
    number_of_items: int
    total_amount: float


def _int32(payload: dict[str, object], field: str) -> int:
    value = payload.get(field)
    # bool is an int subclass: true must not become user 1.
    if not isinstance(value, int) or isinstance(value, bool) or not INT32_MIN <= value <= INT32_MAX:
        raise InvalidMessageError(f"{field} must be a 32-bit integer")
    return value


def parse_order(body: bytes) -> Order:
    """The queue's contract: a JSON object of numbers, as api-gateway publishes it."""
    try:
        payload = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise InvalidMessageError(f"not JSON: {exc}") from exc
    if not isinstance(payload, dict):
        raise InvalidMessageError("not a JSON object")
    amount = payload.get("total_amount")
    if not isinstance(amount, (int, float)) or isinstance(amount, bool) or not math.isfinite(amount):
        raise InvalidMessageError("total_amount must be a finite number")
    return Order(_int32(payload, "user_id"), _int32(payload, "number_of_items"), float(amount))


class OrderStore:
    """One connection to billing-db, reopened after a failure."""

    def __init__(self, conninfo: str) -> None:
        self._conninfo = conninfo
        self._connection: psycopg.Connection | None = None

    def _connect(self) -> psycopg.Connection:
        if self._connection is not None and not self._connection.closed:
            return self._connection
        connection = psycopg.connect(self._conninfo)
        try:
            with connection.transaction():
                connection.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK_KEY,))
                for statement in _SCHEMA:
                    connection.execute(statement)
        except BaseException:
            connection.close()
            raise
        self._connection = connection
        return connection

    def save(self, orders: Sequence[tuple[str, Order]]) -> int:
        """Store (message_id, order) pairs in one transaction; return how many rows are new.

        Orders whose message id is already stored are skipped.  Nothing is
        stored if an error is raised: DatabaseUnavailableError when the
        database cannot be reached (keep the orders, retry), OrderRefusedError
        when it refuses the data (retrying the same batch cannot help).
        """
        if not orders:
            return 0
        rows = [{"message_id": message_id, **vars(order)} for message_id, order in orders]
        try:
            connection = self._connect()
            with connection.transaction(), connection.cursor() as cursor:
                stored = 0
                for row in rows:
                    cursor.execute(_INSERT_ONCE, row)
                    stored += cursor.rowcount
                return stored
        except psycopg.Error as exc:
            if is_data_error(exc):
                raise OrderRefusedError(_first_line(exc)) from exc
            self.close()
            raise DatabaseUnavailableError(_first_line(exc)) from exc

    def close(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            connection.close()


def _first_line(exc: Exception) -> str:
    """The cause of a psycopg error, without its multi-line hints."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def database_reachable(conninfo: str) -> bool:
    """True when billing-db accepts a connection and answers a query."""
    try:
        with psycopg.connect(conninfo, connect_timeout=2) as connection:
            connection.execute("SELECT 1")
        return True
    except psycopg.Error:
        return False
