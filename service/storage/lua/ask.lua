-- Reserve trial numbers for an ask. Python then computes params and calls commit.lua.
-- KEYS[1] study  KEYS[2] trials  KEYS[3] leases  KEYS[4] reserved  KEYS[5] pending
-- KEYS[6] enqueued  KEYS[7] levels  KEYS[8] idempotency key (optional)
-- ARGV[1] uid  ARGV[2] count  ARGV[3] reservation ttl ms  ARGV[4] expiry batch limit
-- ARGV[5] worker  ARGV[6] resume ('1' or '0')  ARGV[7] lease ms (for resumed trials)
-- ARGV[8] max trials per study (0 = no limit)  ARGV[9] ms an idempotency key stays pending
-- Returns one of:
--   {'gone'}                         no study with this uid
--   {'replay', stored}               the idempotency key already has an answer
--   {'busy'}                         the same idempotency key is being served right now
--   {'paused'} / {'limit', seq}      study paused / trial limit reached
--   {'exhausted', running}           a finite sampler has handed out every point
--   {'resumed', now, n1, n2, ...}    the worker's own running trials, leases renewed
--   {'ok', now, level, version, level_start, state JSON, level asked, level done, expired,
--    n, slot, payload, n, slot, payload, ...}
local k_study, k_trials, k_leases, k_reserved, k_pending = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
if redis.call('HGET', k_study, 'uid') ~= ARGV[1] then return {'gone'} end
local k_idem = KEYS[8]
if k_idem then
  local stored = redis.call('GET', k_idem)
  if stored == 'pending' then return {'busy'} end
  if stored then return {'replay', stored} end
end
if redis.call('HGET', k_study, 'paused') == '1' then return {'paused'} end
local now = now_ms()
local expired = expire_due(k_study, k_trials, k_leases, k_reserved, k_pending, now, tonumber(ARGV[4]))

if ARGV[6] == '1' then
  local mine = {'resumed', now}
  for _, n in ipairs(redis.call('ZRANGE', k_leases, 0, -1)) do
    local record = redis.call('HGET', k_trials, n)
    if record and not is_finished(record) and cjson.decode(record).w == ARGV[5] then
      redis.call('ZADD', k_leases, now + tonumber(ARGV[7]), n)
      table.insert(mine, n)
    end
  end
  if #mine > 2 then return mine end
end

local count = tonumber(ARGV[2])
local max_trials = tonumber(ARGV[8])
local seq = tonumber(redis.call('HGET', k_study, 'seq'))
if max_trials > 0 then
  count = math.min(count, max_trials - seq)
  if count <= 0 then return {'limit', seq} end
end
local popped = redis.call('ZPOPMIN', k_pending, count)
local slots, payloads = {}, {}
for i = 1, #popped, 2 do
  local slot = popped[i]
  local kind, id = string.sub(slot, 1, 1), string.sub(slot, 2)
  local payload = ''
  if kind == 'r' then
    payload = split_record(redis.call('HGET', k_trials, id) or '')
  elseif kind == 'e' then
    payload = redis.call('HGET', KEYS[6], id) or ''
  end
  table.insert(slots, slot)
  table.insert(payloads, payload)
end

local level = redis.call('HGET', k_study, 'level')
local fresh = count - #slots
if fresh > 0 then
  local limit = redis.call('HGET', k_study, 'draw_limit')
  local cursor = tonumber(redis.call('HGET', k_study, 'cursor'))
  if limit then fresh = math.min(fresh, tonumber(limit) - cursor) end
  if fresh > 0 then
    redis.call('HINCRBY', k_study, 'cursor', fresh)
    redis.call('HINCRBY', KEYS[7], level .. ':a', fresh)
    for draw = cursor, cursor + fresh - 1 do
      table.insert(slots, 'f' .. draw)
      table.insert(payloads, '')
    end
  end
end
if #slots == 0 then
  return {'exhausted', redis.call('HGET', k_study, 'n_running')}
end
local first = redis.call('HINCRBY', k_study, 'seq', #slots) - #slots
if k_idem then redis.call('SET', k_idem, 'pending', 'PX', tonumber(ARGV[9])) end

local out = {'ok', now, level, redis.call('HGET', k_study, 'sver'), redis.call('HGET', k_study, 'lstart'),
  redis.call('HGET', k_study, 'sstate'), redis.call('HGET', KEYS[7], level .. ':a') or '0',
  redis.call('HGET', KEYS[7], level .. ':d') or '0', expired}
local deadline = now + tonumber(ARGV[3])
for i, slot in ipairs(slots) do
  local n = first + i - 1
  redis.call('HSET', k_reserved, n, slot)
  redis.call('ZADD', k_leases, deadline, n)
  table.insert(out, n)
  table.insert(out, slot)
  table.insert(out, payloads[i])
end
return out
