"""The Lua scripts of `RedisTimes`: each runs at once in Redis, in one round
trip. They take their keys, their channel and every number as arguments, so
the Python code holds the layout and the sizes.

Every change is published on the map's channel in the same step, so that
instances that mirror the map learn it without asking: a write as
`r <revision> <time held> <ms left, -1: for good> <key>`, a new epoch as
`e <epoch>`."""

from __future__ import annotations

from typing import Final

__all__ = ["MOVE_EPOCH", "READ", "REVOKE"]

# Compare and set: the epoch becomes ARGV[2] only if it still reads ARGV[1]
# ("" for missing), and is then published on channel ARGV[3]; the answer says
# whether it did, and the value now held.
MOVE_EPOCH: Final = """
local current = redis.call('GET', KEYS[1]) or ''
if current ~= ARGV[1] then
  return {0, current}
end
redis.call('SET', KEYS[1], ARGV[2])
redis.call('PUBLISH', ARGV[3], 'e ' .. ARGV[2])
return {1, ARGV[2]}
"""

# READ's and REVOKE's first arguments: ARGV[1], a revision whose fingerprint
# the caller checks (0: none); ARGV[2] and ARGV[3], how many fingerprints the
# ring (one string key) keeps and how many bytes each takes. Revision n has
# slot (n - 1) mod ARGV[2]; a slot never written reads as "" or zero bytes.
_FINGERPRINT_AT: Final = """
local kept_for, width = tonumber(ARGV[2]), tonumber(ARGV[3])
local function fingerprint(ring, revision)
  if revision < 1 then
    return false
  end
  local offset = ((revision - 1) % kept_for) * width
  return redis.call('GETRANGE', ring, offset, offset + width - 1)
end
"""

# The map's state and an entry, at once. KEYS: the epoch, the count of
# revisions, the ring of fingerprints, and the entry (optional). The answer:
# the epoch, the count, the fingerprint of revision ARGV[1] and that of the
# latest revision, the entry.
READ: Final = (
    _FINGERPRINT_AT
    + """
local count = redis.call('GET', KEYS[2])
local entry = false
if KEYS[4] then
  entry = redis.call('GET', KEYS[4])
end
return {
  redis.call('GET', KEYS[1]),
  count,
  fingerprint(KEYS[3], tonumber(ARGV[1])),
  fingerprint(KEYS[3], tonumber(count) or 0),
  entry,
}
"""
)

# A write, at once. KEYS: the entry, the epoch, the count of revisions, the
# ring of fingerprints; ARGV[4]: the time, ARGV[5]: its life in milliseconds
# ("": for good), ARGV[6]: the new fingerprint, ARGV[7]: the channel.
# - The entry becomes the later of its time and ARGV[4], and lives the longer
#   of its remaining life and ARGV[5] (an entry without expiry keeps none).
# - The count goes up to n, and n's slot in the ring holds ARGV[6].
# - The change is published as revision n, with what the entry now holds.
# - The answer is what the store held before: the epoch, the count and the
#   fingerprint of revision ARGV[1]; then n, the time the entry now holds and
#   its milliseconds left (-1: for good).
REVOKE: Final = (
    _FINGERPRINT_AT
    + """
local value = ARGV[4]
local current = redis.call('GET', KEYS[1])
if current and tonumber(current) and tonumber(current) > tonumber(value) then
  value = current
end
local left = redis.call('PTTL', KEYS[1])
if ARGV[5] == '' or (current and left == -1) then
  redis.call('SET', KEYS[1], value)
else
  local px = tonumber(ARGV[5])
  if left > px then
    px = left
  end
  redis.call('SET', KEYS[1], value, 'PX', px)
end
local epoch = redis.call('GET', KEYS[2])
local before = redis.call('GET', KEYS[3])
local kept = fingerprint(KEYS[4], tonumber(ARGV[1]))
local n = redis.call('INCR', KEYS[3])
redis.call('SETRANGE', KEYS[4], ((n - 1) % kept_for) * width, ARGV[6])
local left_now = redis.call('PTTL', KEYS[1])
redis.call(
  'PUBLISH', ARGV[7],
  'r ' .. n .. ' ' .. value .. ' ' .. left_now .. ' ' .. KEYS[1]
)
return {epoch, before, kept, n, value, left_now}
"""
)
