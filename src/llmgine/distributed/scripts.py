"""The Lua scripts: each step that must happen at once runs as one script in Redis.

Times are Redis's own (``TIME``), so nodes on machines whose clocks disagree
still agree on when a heartbeat expired or a scheduled event is due.
"""

from __future__ import annotations

from llmgine.distributed.keys import GROUP

__all__ = [
    "BEGIN",
    "CANCEL",
    "CLEAN_NODE",
    "EXPIRED",
    "FINISH",
    "FORWARD",
    "GIVE_UP",
    "HEARTBEAT",
    "MOVE_DUE",
    "RENEW",
    "SCHEDULE",
    "SUBMIT",
]

#: Entries a command stream keeps at most, and a reply stream.
COMMANDS_MAXLEN = 100_000
REPLIES_MAXLEN = 1000


def _fill(script: str) -> str:
    """The constants every node shares, written into a script (fewer arguments to send)."""
    return (
        script.replace("$GROUP", f"'{GROUP}'")
        .replace("$COMMANDS_MAXLEN", str(COMMANDS_MAXLEN))
        .replace("$REPLIES_MAXLEN", str(REPLIES_MAXLEN))
    )


#: Enqueue a command once. A stored result is sent back at once instead; a command
#: still queued or running (submitted, or leased) is not queued again. The entry's
#: fields are named here: the fewer arguments a call has, the less the caller's
#: client spends packing them (a round trip's largest cost on the caller's side).
#: KEYS: submitted, stream, result, lease, reply. ARGV: ttl s, command id, data,
#: origin node. Returns the entry id, 'done' or false.
SUBMIT = _fill("""
if redis.call('EXISTS', KEYS[3], KEYS[1], KEYS[4]) > 0 then
  local stored = redis.call('GET', KEYS[3])
  if not stored then return false end
  redis.call('XADD', KEYS[5], 'MAXLEN', '~', $REPLIES_MAXLEN, '*',
             'id', ARGV[2], 'result', stored)
  return 'done'
end
local id = redis.call('XADD', KEYS[2], 'MAXLEN', '~', $COMMANDS_MAXLEN, '*',
                      'id', ARGV[2], 'data', ARGV[3], 'origin', ARGV[4])
redis.call('SET', KEYS[1], KEYS[2] .. ' ' .. id, 'EX', tonumber(ARGV[1]))
return id
""")

#: Before running a redelivered command: its stored result, or take the lease.
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

#: Take or keep the lease of a running command (none once its result is stored).
#: KEYS: lease, result. ARGV: node, lease ms. Returns 1 when the lease is ours.
RENEW = """
if redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', tonumber(ARGV[2])) then return 1 end
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]))
end
return 0
"""

#: Finish a command: store the result once, reply (with the stored one) unless the
#: caller's node is gone for good, ack, drop the entry and the lease.
#: KEYS: result, reply ('' for none), stream, lease ('' when this node never took
#: it: a lease left after a result is stored only expires), nodes. ARGV: result,
#: ttl s, entry id, command id, node, last event id sent, caller node. Returns 1
#: if stored.
FINISH = _fill("""
local stored = redis.call('SET', KEYS[1], ARGV[1], 'NX', 'EX', tonumber(ARGV[2]))
local result = ARGV[1]
if not stored then result = redis.call('GET', KEYS[1]) or ARGV[1] end
if KEYS[2] ~= '' and (ARGV[7] == '' or redis.call('ZSCORE', KEYS[5], ARGV[7])) then
  if ARGV[6] == '' then
    redis.call('XADD', KEYS[2], 'MAXLEN', '~', $REPLIES_MAXLEN, '*',
               'id', ARGV[4], 'result', result)
  else
    redis.call('XADD', KEYS[2], 'MAXLEN', '~', $REPLIES_MAXLEN, '*',
               'id', ARGV[4], 'result', result, 'events', ARGV[6])
  end
end
if ARGV[3] ~= '' then
  redis.call('XACK', KEYS[3], $GROUP, ARGV[3])
  redis.call('XDEL', KEYS[3], ARGV[3])
end
if KEYS[4] ~= '' and redis.call('GET', KEYS[4]) == ARGV[5] then redis.call('DEL', KEYS[4]) end
if stored then return 1 end
return 0
""")

#: Move a command entry to another stream (its session's handler went away, or its
#: node is gone), keeping where it is for a caller that gives up.
#: KEYS: stream, target, lease, submitted. ARGV: entry id, field, value...
FORWARD = _fill("""
local id = redis.call('XADD', KEYS[2], 'MAXLEN', '~', $COMMANDS_MAXLEN, '*', unpack(ARGV, 2))
redis.call('XACK', KEYS[1], $GROUP, ARGV[1])
redis.call('XDEL', KEYS[1], ARGV[1])
redis.call('DEL', KEYS[3])
if redis.call('EXISTS', KEYS[4]) == 1 then
  redis.call('SET', KEYS[4], KEYS[2] .. ' ' .. id, 'KEEPTTL')
end
return id
""")

#: A caller gives up: store its failed result unless a real one got there first, and
#: withdraw the entry if no node has taken it yet (so it never runs). The entry's
#: stream is read from ``submitted`` (a key named by a value: single-node Redis only).
#: KEYS: result, submitted. ARGV: failed result, ttl s, group. Returns the stored
#: result when one was there already, else false.
GIVE_UP = """
if not redis.call('SET', KEYS[1], ARGV[1], 'NX', 'EX', tonumber(ARGV[2])) then
  return redis.call('GET', KEYS[1])
end
local where = redis.call('GET', KEYS[2])
if where then
  local stream, id = string.match(where, '^(.*) (%S+)$')
  if stream then
    local pending = redis.pcall('XPENDING', stream, ARGV[3], id, id, 1)
    if type(pending) ~= 'table' or pending.err ~= nil or #pending == 0 then
      redis.call('XDEL', stream, id)  -- not delivered (or no group yet: never read)
    end
  end
end
return false
"""

#: A cancelled caller: store its failed result (unless a real one got there first);
#: withdraw the entry if no node has read it, else name the node reading it (the
#: consumer the entry is pending for), which the caller then tells to cancel.
#: KEYS: result, submitted. ARGV: failed result, ttl s. Returns the node, or ''.
CANCEL = _fill("""
if not redis.call('SET', KEYS[1], ARGV[1], 'NX', 'EX', tonumber(ARGV[2])) then
  return ''
end
local where = redis.call('GET', KEYS[2])
if where then
  local stream, id = string.match(where, '^(.*) (%S+)$')
  if stream then
    local pending = redis.pcall('XPENDING', stream, $GROUP, id, id, 1)
    if type(pending) ~= 'table' or pending.err ~= nil or #pending == 0 then
      redis.call('XDEL', stream, id)  -- not delivered (or no group yet: never read)
      return ''
    end
    return pending[1][2]
  end
end
return ''
""")

#: A node's heartbeat: its key (expiring after ttl ms; deleted when ttl is 0) and its
#: expiry time in ``nodes``. KEYS: node key, nodes, types. ARGV: node, ttl ms, type...
#: Returns 1 when ``nodes`` did not know the node (new, or cleaned up as gone).
HEARTBEAT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ttl = tonumber(ARGV[2])
if ttl > 0 then
  redis.call('SET', KEYS[1], now, 'PX', ttl)
else
  redis.call('DEL', KEYS[1])
end
local new = redis.call('ZADD', KEYS[2], now + ttl, ARGV[1])
if #ARGV > 2 then redis.call('SADD', KEYS[3], unpack(ARGV, 3)) end
return new
"""

#: The nodes whose heartbeat has expired. KEYS: nodes. ARGV: limit.
#: Returns {now ms, node, expired at ms, node, expired at ms, ...}.
EXPIRED = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local gone = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'WITHSCORES',
                        'LIMIT', 0, tonumber(ARGV[1]))
table.insert(gone, 1, now)
return gone
"""

#: Remove what belongs to a node gone for good (heartbeat expired more than grace ms
#: ago), unless it came back. Its consumers go only from streams where nothing is
#: pending for them, its inbox only once empty (live nodes take its commands over
#: first); the node leaves ``nodes`` once nothing of it is left.
#: KEYS: node key, nodes, inbox, reply, events, then per command type: its stream,
#: its handler set. ARGV: node, grace ms, group, event group.
#: Returns -1 (alive, or not gone long enough), else what is kept back (0: all gone).
CLEAN_NODE = """
if redis.call('EXISTS', KEYS[1]) == 1 then return -1 end
local expired = redis.call('ZSCORE', KEYS[2], ARGV[1])
if not expired then return 0 end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if now - tonumber(expired) < tonumber(ARGV[2]) then return -1 end
local kept = 0
for i = 6, #KEYS, 2 do
  redis.call('SREM', KEYS[i + 1], ARGV[1])
  local pending = redis.pcall('XPENDING', KEYS[i], ARGV[3], '-', '+', 1, ARGV[1])
  if type(pending) == 'table' and pending.err == nil then
    if #pending == 0 then
      redis.call('XGROUP', 'DELCONSUMER', KEYS[i], ARGV[3], ARGV[1])
    else
      kept = kept + 1
    end
  end
end
if redis.call('XLEN', KEYS[3]) == 0 then redis.call('DEL', KEYS[3]) else kept = kept + 1 end
redis.call('DEL', KEYS[4])
redis.pcall('XGROUP', 'DESTROY', KEYS[5], ARGV[4])
if kept == 0 then redis.call('ZREM', KEYS[2], ARGV[1]) end
return kept
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
