"""The Redis side: claim votes into a per-worker processing list, ack after commit.

A vote leaves Redis only when its row is committed: claiming moves it from
``votes`` into ``votes:processing:<worker id>`` atomically (a Lua script), and
the ack removes it from there after the Postgres commit.  A worker killed in
between finds its batch again at start; a worker that never comes back (a pod
with a new name) leaves a list whose heartbeat key expires, and any other
worker then commits that list for it.
"""

from __future__ import annotations

from collections.abc import Iterator

import redis

QUEUE_KEY = "votes"
PROCESSING_PREFIX = "votes:processing:"
HEARTBEAT_PREFIX = "votes:worker:"
SEQ_KEY = "votes:seq"
# Items no retry can write (not a vote, or a vote Postgres refuses), for an
# operator to read: LRANGE votes:dead 0 -1.  Each is the claimed item as it
# was, "<seq> <json>".
DEAD_LETTER_KEY = "votes:dead"

# The sequence is the larger of Redis's clock in microseconds and the last one
# handed out plus one: monotonic while Redis runs, and still ahead of every
# committed vote if Redis restarts without persistence and loses SEQ_KEY.
# Numbers are formatted with %.0f because Lua's default formatting of numbers
# this large is scientific notation.  The processing list is empty when we
# claim, so LPUSH of the reversed batch keeps queue order; it is LPUSH so
# that Redis's count of RPUSH calls stays the number of votes the front door
# queued, which bench/votes uses as its ground truth for "no vote lost".
_CLAIM_SCRIPT = """
redis.replicate_commands()
local items = redis.call('LRANGE', KEYS[1], 0, tonumber(ARGV[1]) - 1)
if #items == 0 then return {} end
redis.call('LTRIM', KEYS[1], #items, -1)
local now = redis.call('TIME')
local clock = tonumber(now[1]) * 1000000 + tonumber(now[2])
local first = math.max(clock, tonumber(redis.call('GET', KEYS[3]) or '0') + 1)
local tagged, reversed = {}, {}
for i, item in ipairs(items) do
  tagged[i] = string.format('%.0f', first + i - 1) .. ' ' .. item
  reversed[#items - i + 1] = tagged[i]
end
redis.call('LPUSH', KEYS[2], unpack(reversed))
redis.call('SET', KEYS[3], string.format('%.0f', first + #items - 1))
return tagged
"""

# Removes exactly the batch that was committed, and nothing if the list has
# changed meanwhile (another worker recovered it and its owner moved on).
# Sequence numbers are unique, so the first item identifies the batch.  The
# batch's rejected items (ARGV[3..]) move to the dead-letter list in the same
# step, so a kill cannot drop them nor list them twice.  Returns the length
# of the dead-letter list, or -1 when nothing was acknowledged.
_ACK_SCRIPT = """
if redis.call('LINDEX', KEYS[1], 0) ~= ARGV[1] then return -1 end
for i = 3, #ARGV do redis.call('RPUSH', KEYS[2], ARGV[i]) end
redis.call('LTRIM', KEYS[1], tonumber(ARGV[2]), -1)
return redis.call('LLEN', KEYS[2])
"""


class VoteQueue:
    def __init__(self, client: redis.Redis, worker_id: str) -> None:
        self.client = client
        self.worker_id = worker_id
        self.processing_key = PROCESSING_PREFIX + worker_id
        self._claim = client.register_script(_CLAIM_SCRIPT)
        self._ack = client.register_script(_ACK_SCRIPT)

    def pending(self, key: str | None = None) -> list[str]:
        """Items claimed into a processing list (ours by default), not yet acked."""
        return self.client.lrange(key or self.processing_key, 0, -1)

    def claim(self, count: int) -> list[str]:
        """Move up to count votes from the queue into our processing list."""
        return self._claim(keys=[QUEUE_KEY, self.processing_key, SEQ_KEY], args=[count])

    def queued(self) -> int:
        return self.client.llen(QUEUE_KEY)

    def wait_for_votes(self, timeout: float) -> bool:
        """Block until the queue has a vote or timeout passes; move nothing.

        Moving the head of a list onto its own head is a blocking no-op: it
        wakes up as soon as a vote arrives without taking it out of the queue,
        so every vote enters a processing list through the claim script.
        """
        return self.client.blmove(QUEUE_KEY, QUEUE_KEY, timeout, "LEFT", "LEFT") is not None

    def ack(self, items: list[str], key: str | None = None, rejected: list[str] | None = None) -> int:
        """Drop a committed batch from its processing list, its rejected items into the dead-letter list.

        Returns the dead-letter list's length, or -1 if the batch was no longer there.
        """
        if not items:
            return self.dead_letter_count()
        keys = [key or self.processing_key, DEAD_LETTER_KEY]
        return int(self._ack(keys=keys, args=[items[0], len(items), *(rejected or [])]))

    def dead_letter_count(self) -> int:
        return int(self.client.llen(DEAD_LETTER_KEY))

    def heartbeat(self, ttl: int) -> None:
        self.client.set(HEARTBEAT_PREFIX + self.worker_id, "1", ex=ttl)

    def orphaned_lists(self) -> Iterator[str]:
        """Processing lists of other workers whose heartbeat has expired."""
        for key in self.client.scan_iter(match=PROCESSING_PREFIX + "*", count=100):
            owner = key[len(PROCESSING_PREFIX) :]
            if key != self.processing_key and not self.client.exists(HEARTBEAT_PREFIX + owner):
                yield key
