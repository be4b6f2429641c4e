"""The Lua scripts of `RedisSessionRegistry`: each change to a user's records
is one atomic step in Redis.

A user's records are one hash, `<prefix>u:<user id>`, of JSON by session id:
`c` login, `s` last sight (ms), `a` address at last sight, `la` at login,
`ua` User-Agent, `p` policy, `x` expiry (ms, or null: until ended). Every
script drops the expired records it meets and sets the hash to expire with
its longest-lived record.
"""

from __future__ import annotations

from typing import Final

__all__ = ["ADD", "REMOVE", "SEEN"]

# Drops expired or unreadable records of KEYS[1] and sets its expiry to that
# of its longest-lived record; leaves `live`, {id, last sight, json} of the
# others. Expects `now` (ms).
_TIDY: Final = """
local live = {}
local longest = 0
local forever = false
local all = redis.call('HGETALL', KEYS[1])
for i = 1, #all, 2 do
  local ok, record = pcall(cjson.decode, all[i + 1])
  local expiry = ok and type(record) == 'table' and record.x
  if not ok or type(record) ~= 'table'
      or (type(expiry) == 'number' and expiry <= now) then
    redis.call('HDEL', KEYS[1], all[i])
  else
    if type(expiry) == 'number' then
      if expiry > longest then longest = expiry end
    else
      forever = true
    end
    table.insert(live, {all[i], tonumber(record.s) or 0, all[i + 1]})
  end
end
if #live > 0 then
  if forever then
    redis.call('PERSIST', KEYS[1])
  else
    redis.call('PEXPIRE', KEYS[1], math.max(1, longest - now))
  end
end
"""

#: KEYS[1] the user's records. ARGV: session id, record (JSON), now (ms),
#: max sessions. Adds the record; returns the JSON of the records beyond
#: max sessions, least recently seen first, which it removed.
ADD: Final = (
    """
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
local now = tonumber(ARGV[3])
"""
    + _TIDY
    + """
local evicted = {}
local excess = #live - tonumber(ARGV[4])
if excess > 0 then
  table.sort(live, function(a, b)
    if a[2] ~= b[2] then return a[2] < b[2] end
    return a[1] < b[1]
  end)
  for _, item in ipairs(live) do
    if excess <= 0 then break end
    if item[1] ~= ARGV[1] then
      redis.call('HDEL', KEYS[1], item[1])
      table.insert(evicted, item[3])
      excess = excess - 1
    end
  end
end
return evicted
"""
)

#: KEYS[1] the user's records, KEYS[2] the session's end in the ended
#: sessions' store (checked only when ARGV[6] is "1"). ARGV: session id,
#: record to add when there is none (JSON), last sight (ms), address (or
#: ""), expiry (ms, or "" for none), check the end ("1" or "0"), now (ms).
#: An ended session's record is not made again.
SEEN: Final = (
    """
if ARGV[6] == '1' and redis.call('EXISTS', KEYS[2]) == 1 then
  return 0
end
local now = tonumber(ARGV[7])
local current = redis.call('HGET', KEYS[1], ARGV[1])
local record = nil
if current then
  local ok, decoded = pcall(cjson.decode, current)
  if ok and type(decoded) == 'table' then record = decoded end
end
if record == nil then
  record = cjson.decode(ARGV[2])
else
  record.s = tonumber(ARGV[3])
  if ARGV[4] == '' then record.a = cjson.null else record.a = ARGV[4] end
  if ARGV[5] == '' then record.x = cjson.null else record.x = tonumber(ARGV[5]) end
end
redis.call('HSET', KEYS[1], ARGV[1], cjson.encode(record))
"""
    + _TIDY
    + """
return 1
"""
)

#: KEYS[1] the user's records. ARGV: the session ids to remove (none: all).
#: Returns the ids that had a record.
REMOVE: Final = """
local removed = {}
if #ARGV == 0 then
  removed = redis.call('HKEYS', KEYS[1])
  redis.call('DEL', KEYS[1])
  return removed
end
for _, id in ipairs(ARGV) do
  if redis.call('HDEL', KEYS[1], id) == 1 then table.insert(removed, id) end
end
return removed
"""
