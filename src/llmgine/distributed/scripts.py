"""The Lua scripts: each step that must happen at once runs as one script in Redis."""

from __future__ import annotations

__all__ = ["BEGIN", "FINISH", "MOVE_DUE", "RENEW", "SCHEDULE", "SUBMIT"]

#: Enqueue a command once. KEYS: submitted, stream. ARGV: ttl s, maxlen, field, value...
SUBMIT = """
if redis.call('SET', KEYS[1], '1', 'NX', 'EX', tonumber(ARGV[1])) then
  return redis.call('XADD', KEYS[2], 'MAXLEN', '~', tonumber(ARGV[2]), '*', unpack(ARGV, 3))
end
return false
"""

#: Before running a command: its stored result, or take the lease.
#: KEYS: result, lease. ARGV: node, lease ms. Returns {'done', result} | {'run'} | {'busy'}.
BEGIN = """
local stored = redis.call('GET', KEYS[1])
if stored then return {'done', stored} end
if redis.call('SET', KEYS[2], ARGV[1], 'NX', 'PX', tonumber(ARGV[2])) then return {'run'} end
if redis.call('GET', KEYS[2]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[2], tonumber(ARGV[2])); return {'run'}
end
return {'busy'}
"""

#: Keep a lease while its command runs. KEYS: lease. ARGV: node, lease ms.
RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]))
end
return 0
"""

#: Finish a command: store the result once, reply (with the stored one), ack, drop the
#: entry and the lease. KEYS: result, reply, stream, lease. ARGV: result, ttl s, group,
#: entry id, command id, node, reply maxlen, last event id sent. Returns 1 if stored.
FINISH = """
local stored = redis.call('SET', KEYS[1], ARGV[1], 'NX', 'EX', tonumber(ARGV[2]))
local result = ARGV[1]
if not stored then result = redis.call('GET', KEYS[1]) or ARGV[1] end
if ARGV[9] == '1' then
  redis.call('XADD', KEYS[2], 'MAXLEN', '~', tonumber(ARGV[7]), '*',
             'id', ARGV[5], 'result', result, 'events', ARGV[8])
end
if ARGV[4] ~= '' then
  redis.call('XACK', KEYS[3], ARGV[3], ARGV[4])
  redis.call('XDEL', KEYS[3], ARGV[4])
end
if redis.call('GET', KEYS[4]) == ARGV[6] then redis.call('DEL', KEYS[4]) end
if stored then return 1 end
return 0
"""

#: Schedule a shared event cluster-wide. KEYS: schedule, body. ARGV: due (epoch s), id, body.
SCHEDULE = """
if redis.call('ZADD', KEYS[1], 'NX', ARGV[1], ARGV[2]) == 1 then
  redis.call('HSET', KEYS[2], ARGV[2], ARGV[3])
end
return 1
"""

#: Move due scheduled events to the events stream, each once (server time).
#: KEYS: schedule, events, body. ARGV: limit, events maxlen. Returns how many moved.
MOVE_DUE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, tonumber(ARGV[1]))
for _, member in ipairs(due) do
  redis.call('ZREM', KEYS[1], member)
  local body = redis.call('HGET', KEYS[3], member)
  redis.call('HDEL', KEYS[3], member)
  if body then
    redis.call('XADD', KEYS[2], 'MAXLEN', '~', tonumber(ARGV[2]), '*',
               'id', member, 'data', body, 'origin', '')
  end
end
return #due
"""
