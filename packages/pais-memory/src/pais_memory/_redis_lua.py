"""Lua scripts that make each `RedisMemory` write one atomic server-side step.

Layout (P = key prefix):

- `P:s:<session>:seq` next event sequence number, `P:s:<session>:events` sorted set of event JSON
  scored by sequence number, `P:s:<session>:turns` list of `<first seq>:<turn JSON>`,
  `P:s:<session>:summary` the running summary JSON (`text`, `until_seq`, `event_id`).
- `P:s:<session>:owner` the principal that claimed the session; `P:own:<owner>:sessions` sorted set
  of its sessions (stale members are skipped when listed).
- `P:t:<task>:rec` task record JSON; `P:t:<task>:ix` hash of what the task is listed under (`c`
  context, `o` owner, `s` state). The task *index*: sorted sets of task ids scored by the status
  timestamp (epoch milliseconds), one per scope and state, `P:tl:<state>:<scope>` with `*` for every
  state and scope `all`, `c:<context>` or `o:<owner>` (see `index_keys`); a write moves the task
  between them atomically, and dropping a task removes it from all of them.
- `P:paused:<key>` a paused run's state (expires with it); `P:pl:all` and `P:pl:o:<owner>` sorted sets
  of the paused runs listed as awaiting approval, scored by their expiry in server milliseconds.
- `P:run:<run>:log` a run's event log (a stream; fields `d` = event JSON, `f` = 1 on the final event).
- `P:lease:<run>` the holder of a run's lease (expires with the lease), `P:idx:leases` sorted set of
  leased run ids scored by lease expiry in server milliseconds, to find leases that ran out.
- A *registry* per kind (`P:idx:sessions:*`, `P:idx:tasks:*`): `order` (members scored by a
  creation counter, for stable paginated listing), `activity` (scored by last write time in
  server milliseconds, for TTL pruning and least-recently-used eviction) and `counter`.

Each script receives the registry as `KEYS[r]..KEYS[r+2]` (order, activity, counter) plus the
owned-key prefix and a space-separated list of owned-key suffixes, so dropping a member deletes
every key it owns. Scripts touch keys they build from the prefix (evicted members), so they need a
standalone Redis (or a Sentinel-managed primary), not Redis Cluster.
"""

from __future__ import annotations

__all__ = [
    "ACQUIRE_LEASE",
    "APPEND",
    "APPEND_RUN_EVENTS",
    "CLAIM",
    "EXTEND_LOCK",
    "LIST",
    "LIST_PAUSED",
    "PUT_PAUSED",
    "PUT_SUMMARY",
    "PUT_TASK",
    "RELEASE_LEASE",
    "RELEASE_LOCK",
    "RENEW_LEASE",
    "TAKE_EXPIRED_LEASES",
    "TAKE_PAUSED",
    "TASK_PAGE",
    "TASK_STEP",
]

_NOW = """
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
"""

_REGISTRY = (
    _NOW
    + """
-- `index`: the task index prefix (P:tl:) for tasks, nil for sessions
local function registry(first_key, prefix, suffixes, index)
  return {order = KEYS[first_key], activity = KEYS[first_key + 1], counter = KEYS[first_key + 2],
          prefix = prefix, suffixes = suffixes, index = index}
end

-- The index sets listing a task of `ctx`, `owner` (false/'' = none) and `state` ('' = none).
local function index_keys(index, ctx, owner, state)
  local scopes = {'all', 'c:' .. ctx}
  if owner and owner ~= '' then scopes[3] = 'o:' .. owner end
  local keys = {}
  for _, scope in ipairs(scopes) do
    keys[#keys + 1] = index .. '*:' .. scope
    if state and state ~= '' then keys[#keys + 1] = index .. state .. ':' .. scope end
  end
  return keys
end

local function unindex(reg, member)
  if not reg.index then return end
  local meta = redis.call('HMGET', reg.prefix .. member .. ':ix', 'c', 'o', 's')
  if not meta[1] then return end
  for _, key in ipairs(index_keys(reg.index, meta[1], meta[2], meta[3])) do redis.call('ZREM', key, member) end
end

-- List task `member` by its context, owner (the first one given stays) and state, scored by `score`.
local function index(reg, member, ctx, owner, state, score, ttl_ms)
  local meta_key = reg.prefix .. member .. ':ix'
  local old = redis.call('HMGET', meta_key, 'c', 'o', 's')
  if old[2] then owner = old[2] end
  local keys = index_keys(reg.index, ctx, owner, state)
  if old[1] then
    local kept = {}
    for _, key in ipairs(keys) do kept[key] = true end
    for _, key in ipairs(index_keys(reg.index, old[1], old[2], old[3])) do
      if not kept[key] then redis.call('ZREM', key, member) end
    end
  end
  redis.call('HSET', meta_key, 'c', ctx, 's', state)
  if owner ~= '' then redis.call('HSET', meta_key, 'o', owner) end
  for _, key in ipairs(keys) do
    redis.call('ZADD', key, score, member)
    if ttl_ms > 0 then redis.call('PEXPIRE', key, ttl_ms) end
  end
  -- outlives the record, so a record that expired before being pruned is still unindexed when dropped
  if ttl_ms > 0 then redis.call('PEXPIRE', meta_key, 2 * ttl_ms) end
end

local function drop(reg, member)
  unindex(reg, member)
  redis.call('ZREM', reg.order, member)
  redis.call('ZREM', reg.activity, member)
  for suffix in string.gmatch(reg.suffixes, '[^ ]+') do
    redis.call('DEL', reg.prefix .. member .. suffix)
  end
end

local function prune(reg, now, ttl_ms)
  if ttl_ms <= 0 then return end
  local stale = redis.call('ZRANGEBYSCORE', reg.activity, '-inf', now - ttl_ms, 'LIMIT', 0, 100)
  for _, member in ipairs(stale) do drop(reg, member) end
end

local function touch(reg, member, ttl_ms, max_members)
  local now = now_ms()
  -- writes within one millisecond keep their order: the newest score is always the highest
  local newest = redis.call('ZRANGE', reg.activity, -1, -1, 'WITHSCORES')[2]
  if newest and tonumber(newest) >= now then now = tonumber(newest) + 0.001 end
  if not redis.call('ZSCORE', reg.order, member) then
    redis.call('ZADD', reg.order, redis.call('INCR', reg.counter), member)
  end
  redis.call('ZADD', reg.activity, now, member)
  prune(reg, now, ttl_ms)
  local over = redis.call('ZCARD', reg.activity) - max_members
  if over > 0 then
    for _, victim in ipairs(redis.call('ZRANGE', reg.activity, 0, over - 1)) do
      if victim ~= member then drop(reg, victim) end
    end
  end
  if ttl_ms > 0 then
    redis.call('PEXPIRE', reg.order, ttl_ms)
    redis.call('PEXPIRE', reg.activity, ttl_ms)
    redis.call('PEXPIRE', reg.counter, ttl_ms)
  end
end
"""
)

_TRIM = """
-- Keep the last max_events events; a turn is replayed only while every event stored with it is kept.
local function trim(events_key, turns_key, max_events, next_seq)
  local excess = redis.call('ZCARD', events_key) - max_events
  if excess > 0 then redis.call('ZREMRANGEBYRANK', events_key, 0, excess - 1) end
  local oldest = next_seq
  local head = redis.call('ZRANGE', events_key, 0, 0, 'WITHSCORES')
  if head[2] then oldest = tonumber(head[2]) end
  while true do
    local turn = redis.call('LINDEX', turns_key, 0)
    if not turn or tonumber(string.match(turn, '^%d+')) >= oldest then break end
    redis.call('LPOP', turns_key)
  end
end
"""

APPEND = (
    _REGISTRY
    + _TRIM
    + """
-- KEYS: seq, events, turns, registry(order, activity, counter), summary
-- ARGV: session, ttl_ms, max_events, max_sessions, prefix, suffixes, turn ('' = none), events...
local seq_key, events_key, turns_key = KEYS[1], KEYS[2], KEYS[3]
local ttl_ms = tonumber(ARGV[2])
local n = #ARGV - 7
-- A client retry after a lost reply must not store the turn twice.
if n > 0 and redis.call('ZSCORE', events_key, ARGV[8]) then return 0 end
local first = redis.call('INCRBY', seq_key, n) - n
for i = 1, n do redis.call('ZADD', events_key, first + i - 1, ARGV[7 + i]) end
if ARGV[7] ~= '' then redis.call('RPUSH', turns_key, first .. ':' .. ARGV[7]) end
trim(events_key, turns_key, tonumber(ARGV[3]), first + n)
touch(registry(4, ARGV[5], ARGV[6]), ARGV[1], ttl_ms, tonumber(ARGV[4]))
if ttl_ms > 0 then
  redis.call('PEXPIRE', seq_key, ttl_ms)
  redis.call('PEXPIRE', events_key, ttl_ms)
  redis.call('PEXPIRE', turns_key, ttl_ms)
  redis.call('PEXPIRE', KEYS[7], ttl_ms)
end
return 1
"""
)

PUT_SUMMARY = (
    _TRIM
    + """
-- KEYS: seq, events, turns, summary
-- ARGV: max_events, until_seq, summary JSON, event JSON
-- Returns 1 when stored, 0 when the session is gone or its summary already covers as much.
local seq_key, events_key, turns_key, summary_key = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
if redis.call('EXISTS', seq_key) == 0 then return 0 end
local current = redis.call('GET', summary_key)
if current and tonumber(cjson.decode(current).until_seq) >= tonumber(ARGV[2]) then return 0 end
local seq = redis.call('INCR', seq_key) - 1
redis.call('ZADD', events_key, seq, ARGV[4])
trim(events_key, turns_key, tonumber(ARGV[1]), seq + 1)
redis.call('SET', summary_key, ARGV[3])
local ttl = redis.call('PTTL', seq_key)
if ttl > 0 then redis.call('PEXPIRE', summary_key, ttl) end
return 1
"""
)

PUT_TASK = (
    _REGISTRY
    + """
-- KEYS: record, registry(order, activity, counter)
-- ARGV: task id, ttl_ms, max_tasks, prefix, suffixes, record JSON, index prefix, context, owner ('' = none),
--   state ('' = not indexed by state), score, then states that keep the stored record
-- Returns 1 when stored, 0 when the stored record's status.state is one of those states.
if #ARGV > 11 then
  local current = redis.call('GET', KEYS[1])
  if current then
    local ok, record = pcall(cjson.decode, current)
    local state = ok and type(record) == 'table' and type(record.status) == 'table' and record.status.state
    for i = 12, #ARGV do
      if state == ARGV[i] then return 0 end
    end
  end
end
local ttl_ms = tonumber(ARGV[2])
local reg = registry(2, ARGV[4], ARGV[5], ARGV[7])
redis.call('SET', KEYS[1], ARGV[6])
touch(reg, ARGV[1], ttl_ms, tonumber(ARGV[3]))
index(reg, ARGV[1], ARGV[8], ARGV[9], ARGV[10], ARGV[11], ttl_ms)
if ttl_ms > 0 then redis.call('PEXPIRE', KEYS[1], ttl_ms) end
return 1
"""
)

CLAIM = """
-- KEYS: the session's owner key, the owner's session set, the sessions registry counter
-- ARGV: owner, session id, ttl_ms
-- Returns the owner on record (ARGV[1] unless another claimed the session first); refreshes its TTL.
local current = redis.call('GET', KEYS[1])
if not current then
  current = ARGV[1]
  redis.call('SET', KEYS[1], current)
  redis.call('ZADD', KEYS[2], redis.call('INCR', KEYS[3]), ARGV[2])
end
local ttl_ms = tonumber(ARGV[3])
if ttl_ms > 0 and current == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ttl_ms)
  redis.call('PEXPIRE', KEYS[2], ttl_ms)
end
return current
"""

LIST = (
    _REGISTRY
    + """
-- KEYS: listed set (the registry order or a subset scored alike), registry(order, activity, counter)
-- ARGV: after score, limit, ttl_ms, prefix, suffixes, probe suffix
-- Returns {total, member1, score1, value1, ...} with up to limit + 1 live members after the score;
-- members whose probe key has gone are forgotten on the way.
local reg = registry(2, ARGV[4], ARGV[5])
prune(reg, now_ms(), tonumber(ARGV[3]))
local after, want, probe = ARGV[1], tonumber(ARGV[2]) + 1, ARGV[6]
local out = {}
while #out < 3 * want do
  local batch = redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. after, '+inf', 'WITHSCORES', 'LIMIT', 0, want)
  if #batch == 0 then break end
  for i = 1, #batch, 2 do
    local member, score = batch[i], batch[i + 1]
    after = score
    local value = redis.call('GET', reg.prefix .. member .. probe)
    if value then
      out[#out + 1] = member
      out[#out + 1] = score
      out[#out + 1] = value
      if #out >= 3 * want then break end
    else
      redis.call('ZREM', KEYS[1], member)
      drop(reg, member)
    end
  end
end
table.insert(out, 1, redis.call('ZCARD', KEYS[1]))
return out
"""
)

TASK_PAGE = (
    _REGISTRY
    + """
-- KEYS: one index set (see `index_keys`), registry(order, activity, counter)
-- ARGV: lowest score, cursor score ('' = from the newest), cursor task id, limit, ttl_ms, prefix, suffixes,
--   index prefix
-- Returns {total, score1, id1, record1, ...}: up to limit + 1 live tasks after the cursor, the newest
-- first (ties by id, descending), scored at least the lowest score; total counts those in the set.
-- Walks by score with an offset among equal scores, so ties and tasks forgotten on the way are safe.
local reg = registry(2, ARGV[6], ARGV[7], ARGV[8])
prune(reg, now_ms(), tonumber(ARGV[5]))
local lowest, want = ARGV[1], tonumber(ARGV[4]) + 1
local cursor_score, cursor_id = tonumber(ARGV[2]), ARGV[3]
local top, top_score, seen = '+inf', nil, 0
if cursor_score then top, top_score = ARGV[2], cursor_score end
local out = {}
while #out < 3 * want do
  local batch = redis.call('ZREVRANGEBYSCORE', KEYS[1], top, lowest, 'WITHSCORES', 'LIMIT', seen, want)
  if #batch == 0 then break end
  for i = 1, #batch, 2 do
    local member, score = batch[i], tonumber(batch[i + 1])
    if score ~= top_score then top, top_score, seen = batch[i + 1], score, 0 end
    if score == cursor_score and member >= cursor_id then
      seen = seen + 1
    else
      local value = redis.call('GET', reg.prefix .. member .. ':rec')
      if value then
        seen = seen + 1
        out[#out + 1] = batch[i + 1]
        out[#out + 1] = member
        out[#out + 1] = value
        if #out >= 3 * want then break end
      else
        redis.call('ZREM', KEYS[1], member)
        drop(reg, member)
      end
    end
  end
end
table.insert(out, 1, redis.call('ZCOUNT', KEYS[1], lowest, '+inf'))
return out
"""
)

PUT_PAUSED = (
    _NOW
    + """
-- KEYS: state key, then the sorted sets listing it (none: not listed); ARGV: key, state, ttl_ms
-- Stores the state and (re)lists it scored by its expiry; unlisted from the sets it was in before.
local previous = redis.call('GET', KEYS[1] .. ':ls')
if previous then
  for listed in string.gmatch(previous, '[^\\n]+') do redis.call('ZREM', listed, ARGV[1]) end
end
local ttl_ms = tonumber(ARGV[3])
local expiry = now_ms() + ttl_ms
redis.call('SET', KEYS[1], ARGV[2], 'PX', ttl_ms)
local listed = {}
for i = 2, #KEYS do
  redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', now_ms())
  redis.call('ZADD', KEYS[i], expiry, ARGV[1])
  redis.call('PEXPIRE', KEYS[i], math.max(ttl_ms, redis.call('PTTL', KEYS[i])))
  listed[#listed + 1] = KEYS[i]
end
if #listed > 0 then
  redis.call('SET', KEYS[1] .. ':ls', table.concat(listed, '\\n'), 'PX', ttl_ms)
else
  redis.call('DEL', KEYS[1] .. ':ls')
end
return 1
"""
)

LIST_PAUSED = (
    _NOW
    + """
-- KEYS: a listing of paused runs; ARGV: cursor score ('' = from the start), cursor key, limit
-- Forgets the expired ones, then returns {total, score1, key1, ...}: up to limit + 1 keys after the
-- cursor, soonest expiry first (ties by key).
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now_ms())
local want = tonumber(ARGV[3]) + 1
local cursor_score, cursor_key = tonumber(ARGV[1]), ARGV[2]
local lowest = cursor_score and ARGV[1] or '-inf'
local out, offset = {}, 0
while #out < 2 * want do
  local batch = redis.call('ZRANGEBYSCORE', KEYS[1], lowest, '+inf', 'WITHSCORES', 'LIMIT', offset, want)
  if #batch == 0 then break end
  offset = offset + #batch / 2
  for i = 1, #batch, 2 do
    if not (tonumber(batch[i + 1]) == cursor_score and batch[i] <= cursor_key) then
      out[#out + 1] = batch[i + 1]
      out[#out + 1] = batch[i]
      if #out >= 2 * want then break end
    end
  end
end
table.insert(out, 1, redis.call('ZCARD', KEYS[1]))
return out
"""
)

TAKE_PAUSED = """
-- KEYS: state key; ARGV: key. Removes and returns the state (nil when none), unlisting it.
local state = redis.call('GET', KEYS[1])
local listed = redis.call('GET', KEYS[1] .. ':ls')
if listed then
  for key in string.gmatch(listed, '[^\\n]+') do redis.call('ZREM', key, ARGV[1]) end
end
redis.call('DEL', KEYS[1], KEYS[1] .. ':ls')
return state
"""

RELEASE_LOCK = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""

EXTEND_LOCK = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
"""

TASK_STEP = (
    _REGISTRY
    + """
-- One step of a task: store its record, append events to its run log, take or give up its lease.
-- KEYS: record, registry(order, activity, counter), log, push configs, lease, lease index
-- ARGV: task id, ttl_ms, max_tasks, prefix, suffixes, record JSON, log live ttl_ms, log ended ttl_ms,
--   lease holder ('' = none), lease ttl_ms (0 = give it up), index prefix, context, owner, state, score
--   (as PUT_TASK's), number n of states that keep the stored record, those n states, then
--   (event JSON, final 1/0) pairs.
-- Returns {0, current record} when the stored record's state is one of those states (nothing done),
-- else {1, {event ids}, {push config JSON}}.
local n = tonumber(ARGV[16])
if n > 0 then
  local current = redis.call('GET', KEYS[1])
  if current then
    local ok, record = pcall(cjson.decode, current)
    local state = ok and type(record) == 'table' and type(record.status) == 'table' and record.status.state
    for i = 17, 16 + n do
      if state == ARGV[i] then return {0, current} end
    end
  end
end
local ttl_ms = tonumber(ARGV[2])
local reg = registry(2, ARGV[4], ARGV[5], ARGV[11])
redis.call('SET', KEYS[1], ARGV[6])
touch(reg, ARGV[1], ttl_ms, tonumber(ARGV[3]))
index(reg, ARGV[1], ARGV[12], ARGV[13], ARGV[14], ARGV[15], ttl_ms)
if ttl_ms > 0 then redis.call('PEXPIRE', KEYS[1], ttl_ms) end
local ids, log_ttl = {}, tonumber(ARGV[7])
for i = 17 + n, #ARGV, 2 do
  ids[#ids + 1] = redis.call('XADD', KEYS[5], '*', 'd', ARGV[i], 'f', ARGV[i + 1])
  if ARGV[i + 1] == '1' then log_ttl = tonumber(ARGV[8]) end
end
if #ids > 0 and log_ttl > 0 then redis.call('PEXPIRE', KEYS[5], log_ttl) end
if ARGV[9] ~= '' then
  local holder = redis.call('GET', KEYS[7])
  if tonumber(ARGV[10]) > 0 then
    if not holder or holder == ARGV[9] then
      redis.call('SET', KEYS[7], ARGV[9], 'PX', ARGV[10])
      redis.call('ZADD', KEYS[8], now_ms() + tonumber(ARGV[10]), ARGV[1])
    end
  elseif holder == ARGV[9] then
    redis.call('DEL', KEYS[7])
    redis.call('ZREM', KEYS[8], ARGV[1])
  end
end
return {1, ids, redis.call('HVALS', KEYS[6])}
"""
)

APPEND_RUN_EVENTS = """
-- KEYS: log; ARGV: live ttl_ms (0 = keep), ended ttl_ms, then (event JSON, final 1/0) pairs. Returns the ids.
local ids, ttl = {}, tonumber(ARGV[1])
for i = 3, #ARGV, 2 do
  ids[#ids + 1] = redis.call('XADD', KEYS[1], '*', 'd', ARGV[i], 'f', ARGV[i + 1])
  if ARGV[i + 1] == '1' then ttl = tonumber(ARGV[2]) end
end
if ttl > 0 then redis.call('PEXPIRE', KEYS[1], ttl) end
return ids
"""

ACQUIRE_LEASE = (
    _NOW
    + """
-- KEYS: lease, lease index; ARGV: run id, holder, ttl_ms. Returns 1 when the holder has the lease.
local current = redis.call('GET', KEYS[1])
if current and current ~= ARGV[2] then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
redis.call('ZADD', KEYS[2], now_ms() + tonumber(ARGV[3]), ARGV[1])
return 1
"""
)

RENEW_LEASE = (
    _NOW
    + """
-- KEYS: lease, lease index; ARGV: run id, holder, ttl_ms. Returns 1 when renewed.
if redis.call('GET', KEYS[1]) ~= ARGV[2] then return 0 end
redis.call('PEXPIRE', KEYS[1], ARGV[3])
redis.call('ZADD', KEYS[2], now_ms() + tonumber(ARGV[3]), ARGV[1])
return 1
"""
)

RELEASE_LEASE = """
-- KEYS: lease, lease index; ARGV: run id, holder. A lease held by another holder stays.
local current = redis.call('GET', KEYS[1])
if current and current ~= ARGV[2] then return 0 end
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[1])
return 1
"""

TAKE_EXPIRED_LEASES = (
    _NOW
    + """
-- KEYS: lease index; ARGV: lease key prefix, limit. Removes and returns the runs whose lease ran out.
local now = now_ms()
local out = {}
for _, run in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, tonumber(ARGV[2]))) do
  local ttl = redis.call('PTTL', ARGV[1] .. run)
  if ttl > 0 then
    redis.call('ZADD', KEYS[1], now + ttl, run)
  else
    redis.call('ZREM', KEYS[1], run)
    out[#out + 1] = run
  end
end
return out
"""
)
