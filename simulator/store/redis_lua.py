"""Lua scripts that make the Redis store's multi-step changes atomic.

Redis runs a script to completion before it serves any other command, from any client,
so each script below is one indivisible step for every server process sharing the store:
no WATCH/retry loop, one round trip, no window between reading and writing.

Key layout (``p`` is the store's key prefix, passed as ``ARGV[1]``)::

    p..'session:'..key            hash   one session (fields of ``Session``)
    p..'active'                   set    keys of every active session
    p..'account:'..id..':active'  set    keys of an account's active sessions
    p..'user:'..id..':active'     set    keys of a user's active sessions
    p..'account:'..id..':by_activity'  zset  an account's active keys by last_activity_ms
    p..'account:'..id..':by_created'   zset  an account's active keys by created_ms
    p..'tombstones'               zset   ended session keys, scored by ended_ms
    p..'seq:session'              string sequence numbers (INCR)
    p..'account:'..id..':audit'   zset   an account's audit events ('%015d' id ':' JSON) by at_ms
    p..'throttle:'..scope..':'..key   hash   a sign-in throttling record: v (version), r (JSON)
    p..'throttle_expiry'          zset   'scope:key' of every throttling record, by expires_ms

The scripts build key names from the prefix, so they need one Redis server (or a
primary with replicas), not Redis Cluster.
"""

from __future__ import annotations

# Ends one active session: state, reason, ended_ms, out of the active indexes, into the
# tombstones. Returns the ended session's HGETALL, or false when it was not active.
_END_ONE = """
local function end_one(p, key, reason, ended_ms)
  local skey = p .. 'session:' .. key
  local f = redis.call('HMGET', skey, 'state', 'account_id', 'user_id')
  if f[1] ~= 'active' then
    return false
  end
  redis.call('HSET', skey, 'state', 'ended', 'reason', reason, 'ended_ms', ended_ms)
  redis.call('SREM', p .. 'active', key)
  redis.call('SREM', p .. 'account:' .. f[2] .. ':active', key)
  redis.call('SREM', p .. 'user:' .. f[3] .. ':active', key)
  redis.call('ZREM', p .. 'account:' .. f[2] .. ':by_activity', key)
  redis.call('ZREM', p .. 'account:' .. f[2] .. ':by_created', key)
  redis.call('ZADD', p .. 'tombstones', ended_ms, key)
  return redis.call('HGETALL', skey)
end
"""

END_SESSION = _END_ONE + """
-- ARGV: prefix, key, reason, ended_ms
return end_one(ARGV[1], ARGV[2], ARGV[3], ARGV[4])
"""

# Sign-in: evict the user's oldest active sessions, ordered by (created_ms, seq, key) as
# simulator.policy.sessions_to_evict orders them, so that `limit` stay active with the new
# one; then store the new session with the next sequence number.
# Returns {0} when the key exists already, else {seq, {evicted HGETALL, ...}}.
START_SESSION = _END_ONE + """
-- ARGV: prefix, limit, now, key, account_id, user_id, then field/value pairs of the new session
local p, limit, now = ARGV[1], tonumber(ARGV[2]), ARGV[3]
local key, account_id, user_id = ARGV[4], ARGV[5], ARGV[6]
local skey = p .. 'session:' .. key
if redis.call('EXISTS', skey) == 1 then
  return {0}
end
local uset = p .. 'user:' .. user_id .. ':active'
local active = {}
for _, k in ipairs(redis.call('SMEMBERS', uset)) do
  local f = redis.call('HMGET', p .. 'session:' .. k, 'state', 'created_ms', 'seq')
  if f[1] == 'active' then
    table.insert(active, {tonumber(f[2]), tonumber(f[3]), k})
  else
    redis.call('SREM', uset, k)  -- a stale index entry: heal it
  end
end
table.sort(active, function(a, b)
  if a[1] ~= b[1] then return a[1] < b[1] end
  if a[2] ~= b[2] then return a[2] < b[2] end
  return a[3] < b[3]
end)
local evicted = {}
for i = 1, #active - math.max(limit - 1, 0) do
  local ended = end_one(p, active[i][3], 'evicted', now)
  if ended then
    table.insert(evicted, ended)
  end
end
local seq = redis.call('INCR', p .. 'seq:session')
redis.call('HSET', skey, 'seq', seq, 'state', 'active', unpack(ARGV, 7))
redis.call('SADD', uset, key)
redis.call('SADD', p .. 'account:' .. account_id .. ':active', key)
redis.call('SADD', p .. 'active', key)
local times = redis.call('HMGET', skey, 'created_ms', 'last_activity_ms')
redis.call('ZADD', p .. 'account:' .. account_id .. ':by_created', times[1], key)
redis.call('ZADD', p .. 'account:' .. account_id .. ':by_activity', times[2], key)
return {seq, evicted}
"""

RECORD_ACTIVITY = """
-- KEYS: the session hash; ARGV: last_activity_ms, prefix, key. Only forward, only while active: 1 if moved.
local f = redis.call('HMGET', KEYS[1], 'state', 'last_activity_ms', 'account_id')
if f[1] == 'active' and tonumber(f[2]) < tonumber(ARGV[1]) then
  redis.call('HSET', KEYS[1], 'last_activity_ms', ARGV[1])
  redis.call('ZADD', ARGV[2] .. 'account:' .. f[3] .. ':by_activity', ARGV[1], ARGV[3])
  return 1
end
return 0
"""

SESSION_WITH_SETTINGS = """
-- ARGV: prefix, key. The session's HGETALL and its account's settings fields in one round trip,
-- or false when either is missing (read-only).
local session = redis.call('HGETALL', ARGV[1] .. 'session:' .. ARGV[2])
if #session == 0 then
  return false
end
local account_id = redis.call('HGET', ARGV[1] .. 'session:' .. ARGV[2], 'account_id')
local account = redis.call('HGETALL', ARGV[1] .. 'account:' .. account_id)
if #account == 0 then
  return false
end
return {session, account}
"""

READ_SESSIONS = """
-- KEYS: session hashes; ARGV: field names. Each session's values in that order (read-only).
-- One reply for a whole batch parses much faster than a pipeline of HGETALLs.
local rows = {}
for i, key in ipairs(KEYS) do
  rows[i] = redis.call('HMGET', key, unpack(ARGV))
end
return rows
"""

PURGE_TOMBSTONES = """
-- ARGV: prefix, ended_before_ms, batch size. Returns {examined, deleted}.
local p = ARGV[1]
local keys = redis.call('ZRANGEBYSCORE', p .. 'tombstones', '-inf', '(' .. ARGV[2], 'LIMIT', 0, tonumber(ARGV[3]))
local deleted = 0
for _, k in ipairs(keys) do
  local skey = p .. 'session:' .. k
  if redis.call('HGET', skey, 'state') == 'ended' then
    redis.call('DEL', skey)
    deleted = deleted + 1
  end
  redis.call('ZREM', p .. 'tombstones', k)
end
return {#keys, deleted}
"""

CREATE_USER = """
-- KEYS: usernames hash, user sequence; ARGV: prefix, username, account_id, then field/value pairs.
-- Returns the new id, or 0 when the (lowercased) username is taken.
if redis.call('HEXISTS', KEYS[1], ARGV[2]) == 1 then
  return 0
end
local id = redis.call('INCR', KEYS[2])
redis.call('HSET', ARGV[1] .. 'user:' .. id, 'id', id, 'username', ARGV[2], 'account_id', ARGV[3], unpack(ARGV, 4))
redis.call('HSET', KEYS[1], ARGV[2], id)
redis.call('ZADD', ARGV[1] .. 'account:' .. ARGV[3] .. ':users', id, id)
return id
"""

ADD_AUDIT = """
-- KEYS: audit sequence, the account's audit zset; ARGV: at_ms, JSON body.
-- Members are the zero-padded id then the body, so equal at_ms scores sort by id.
local id = redis.call('INCR', KEYS[1])
redis.call('ZADD', KEYS[2], ARGV[1], string.format('%015d', id) .. ':' .. ARGV[2])
return id
"""

HSET_IF_EXISTS = """
-- KEYS: a hash; ARGV: field/value pairs. Never creates a partial record for a missing id.
if redis.call('EXISTS', KEYS[1]) == 0 then
  return 0
end
redis.call('HSET', KEYS[1], unpack(ARGV))
return 1
"""

# KEYS[1] the user's last used TOTP step; ARGV[1] the step now used. 1 when it is later (stored), 0 for a replay.
CLAIM_TOTP_STEP = """
local used = redis.call('GET', KEYS[1])
if used and tonumber(used) >= tonumber(ARGV[1]) then return 0 end
redis.call('SET', KEYS[1], ARGV[1])
return 1
"""

AUDIT_PAGE = """
-- KEYS: the account's audit zset; ARGV: since_ms, before_ms ('' for none), before_id, limit.
-- The last `limit` events (by at_ms, then id) at or after since_ms and before the cursor
-- (before_ms, before_id), newest first, as member, score pairs (read-only).
local since, top, before_id, limit = ARGV[1], ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])
local before_ms = tonumber(top)
local out, offset = {}, 0
while #out < limit * 2 do
  local rows = redis.call('ZREVRANGEBYSCORE', KEYS[1], top == '' and '+inf' or top, since, 'WITHSCORES',
                          'LIMIT', offset, 256)
  if #rows == 0 then break end
  for i = 1, #rows, 2 do
    local member, score = rows[i], tonumber(rows[i + 1])
    if top == '' or score < before_ms or tonumber(string.sub(member, 1, 15)) < before_id then
      table.insert(out, member)
      table.insert(out, rows[i + 1])
      if #out >= limit * 2 then break end
    end
  end
  offset = offset + 256
end
return out
"""

PURGE_AUDIT = """
-- KEYS: an account's audit zset; ARGV: before_ms, limit. Deletes its oldest events with
-- at_ms < before_ms, at most `limit`; returns how many.
local n = math.min(redis.call('ZCOUNT', KEYS[1], '-inf', '(' .. ARGV[1]), tonumber(ARGV[2]))
if n > 0 then
  redis.call('ZREMRANGEBYRANK', KEYS[1], 0, n - 1)
end
return n
"""

SAVE_THROTTLE = """
-- KEYS: the record hash, the expiry index; ARGV: expected version (0: none), record JSON,
-- expires_ms, index member. Compare-and-set: 1 when stored, 0 when the version moved on.
local v = tonumber(redis.call('HGET', KEYS[1], 'v') or '0')
if v ~= tonumber(ARGV[1]) then
  return 0
end
redis.call('HSET', KEYS[1], 'v', v + 1, 'r', ARGV[2])
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[4])
return 1
"""

PURGE_THROTTLE = """
-- ARGV: prefix, expired_before_ms, batch size. Deletes up to a batch of expired records; returns how many.
local p = ARGV[1]
local members = redis.call('ZRANGEBYSCORE', p .. 'throttle_expiry', '-inf', '(' .. ARGV[2], 'LIMIT', 0,
                           tonumber(ARGV[3]))
for _, m in ipairs(members) do
  redis.call('DEL', p .. 'throttle:' .. m)
  redis.call('ZREM', p .. 'throttle_expiry', m)
end
return #members
"""
