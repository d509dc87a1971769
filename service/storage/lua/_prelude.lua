-- Shared helpers, prepended to every script that loads them (see scripts.py).
--
-- Trial record format (hone:{S}:<uid>:trials, field = trial number):
--   running:  <ask JSON>
--   finished: <ask JSON> "\n" <result JSON>
-- The ask JSON's draw fields (params, source, level...) are written by Python and never
-- re-encoded here (cjson would round floats): ask.lua only appends the asker (t, w) to a prepared
-- draw, as records.ask_record does, and scripts decode it only to read small fields: a (attempt),
-- l (level), rf (retry on failure), r (retry of) and o (source).
-- Reservation and pending slots are short strings: f<draw> fresh draw, d<draw> lost grid draw to
-- hand out again, r<number> retry of that trial's configuration, e<id> enqueued configuration.

-- For scripts that act on one trial of one incarnation (tell, heartbeat, report): nil when `uid`
-- is the study's live incarnation, else the reply to return: {'recreated'} when the study was
-- deleted and created again since, {'gone'} when it no longer exists.
local function stale_incarnation(k_study, uid)
  local live = redis.call('HGET', k_study, 'uid')
  if live == uid then return nil end
  if live then return {'recreated'} end
  return {'gone'}
end

local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- Move the study's sampler to a new level if it is still at `version`: a compare-and-set, so of
-- several callers that decide to move at once exactly one does. `start` is the draw index the
-- new level's space-filling sequence counts from; `region` is the level's region record minus
-- its opening brace (level, version, start and time go in front). Returns the new level and
-- version, or nil when the version had moved on.
local function advance_level(k_study, k_regions, version, state, region, start)
  if tonumber(redis.call('HGET', k_study, 'sver')) ~= tonumber(version) then return nil end
  local level = redis.call('HINCRBY', k_study, 'level', 1)
  local new_version = redis.call('HINCRBY', k_study, 'sver', 1)
  redis.call('HSET', k_study, 'sstate', state, 'lstart', start)
  redis.call('HSET', k_regions, level, '{"level":' .. level .. ',"version":' .. new_version .. ',"start":' .. start
    .. ',"at":' .. now_ms() .. ',' .. region)
  return level, new_version
end

local function is_finished(record)
  return string.find(record, '\n', 1, true) ~= nil
end

local function split_record(record)
  local sep = string.find(record, '\n', 1, true)
  if not sep then return record, nil end
  return string.sub(record, 1, sep - 1), string.sub(record, sep + 1)
end

local function next_order(k_study)
  return redis.call('HINCRBY', k_study, 'pseq', 1)
end

-- Store the configuration payloads ARGV[first..] under new enqueued ids, each passed to
-- `queue(id)` in order (behind what is pending, or on a warm start's list); returns the ids.
local function enqueue_from(k_study, k_enqueued, first, queue)
  local ids = {}
  for i = first, #ARGV do
    local id = redis.call('HINCRBY', k_study, 'eseq', 1)
    redis.call('HSET', k_enqueued, id, ARGV[i])
    queue(id)
    table.insert(ids, id)
  end
  return ids
end

-- Give a lost reservation's slot back to the queue, at the front.
local function requeue_slot(k_study, k_pending, slot)
  local kind = string.sub(slot, 1, 1)
  if kind == 'f' then
    -- A fresh draw matters only for a finite sampler (the grid): its point must not be lost.
    if redis.call('HEXISTS', k_study, 'draw_limit') == 1 then
      redis.call('ZADD', k_pending, 0, 'd' .. string.sub(slot, 2))
    end
  else
    redis.call('ZADD', k_pending, 0, slot)
  end
end

-- Expire up to `limit` running trials and reservations whose lease deadline has passed.
-- Returns how many trials became expired.
local function expire_due(k_study, k_trials, k_leases, k_reserved, k_pending, now, limit)
  local due = redis.call('ZRANGEBYSCORE', k_leases, '-inf', now, 'LIMIT', 0, limit)
  if #due == 0 then return 0 end
  local max_retries = tonumber(redis.call('HGET', k_study, 'max_retries') or '0')
  local expired = 0
  for _, n in ipairs(due) do
    local record = redis.call('HGET', k_trials, n)
    if record then
      if not is_finished(record) then
        local ask = cjson.decode(record)
        local requeue = (ask.a or 0) < max_retries
        local flag = ''
        if requeue then
          redis.call('ZADD', k_pending, next_order(k_study), 'r' .. n)
          flag = ',"q":1'
        end
        redis.call('HSET', k_trials, n, record .. '\n{"f":' .. now .. ',"s":"expired"' .. flag .. '}')
        redis.call('HINCRBY', k_study, 'n_running', -1)
        redis.call('HINCRBY', k_study, 'n_expired', 1)
        expired = expired + 1
      end
    else
      local slot = redis.call('HGET', k_reserved, n)
      if slot then
        requeue_slot(k_study, k_pending, slot)
        redis.call('HDEL', k_reserved, n)
      end
    end
    redis.call('ZREM', k_leases, n)
  end
  return expired
end
