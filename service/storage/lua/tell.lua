-- Record a trial's outcome, once.
-- KEYS[1] study  KEYS[2] trials  KEYS[3] leases  KEYS[4] values  KEYS[5] pending  KEYS[6] levels
-- KEYS[7] this trial's curve  KEYS[8] notes  KEYS[9] warm  KEYS[10] idempotency key (optional)
-- ARGV[1] uid of the trial's incarnation  ARGV[2] number  ARGV[3] state  ARGV[4] value ('' for none)
-- ARGV[5] result JSON minus its opening brace (this script prefixes the finish time, and for a
--         pruned trial told without a value, the last value of its curve)
-- ARGV[6] direction  ARGV[7] answer to store under the idempotency key  ARGV[8] seconds it is kept
-- ARGV[9] the source of a warm start's configurations
-- Returns {'ok', record, note} | {'told', record, note} (already finished: Python compares outcomes)
-- | {'reoffered', record, note} (expired and handed out again) | {'replay', stored} | {'no_trial'} | {'recreated'} | {'gone'}
local function better(a, b, direction)
  return (direction == 'minimize' and a < b) or (direction == 'maximize' and a > b)
end

-- A warm start is a bet that the earlier study's best configurations are still good. It is judged
-- against the fresh draws it alternates with: once two of its configurations completed and a fresh
-- draw beat all of them, the rest are dropped (the old optimum moved) and `wdrop` says how many.
local function judge_warm_start(k_study, k_warm, info, value, direction, warm_source, n)
  local v = tonumber(value)
  local field
  if info.o == warm_source then
    field = 'wbest'
    redis.call('HINCRBY', k_study, 'wtold', 1)
  elseif info.l and not info.r then
    field = 'fbest'
  else
    return
  end
  local best = tonumber(redis.call('HGET', k_study, field))
  if not best or better(v, best, direction) then redis.call('HSET', k_study, field, value) end
  local wbest, fbest, told = unpack(redis.call('HMGET', k_study, 'wbest', 'fbest', 'wtold'))
  local left = redis.call('LLEN', k_warm)
  if left > 0 and fbest and wbest and tonumber(told) >= 2 and better(tonumber(fbest), tonumber(wbest), direction) then
    redis.call('DEL', k_warm)
    redis.call('HSET', k_study, 'wdrop', left .. ' ' .. n)
    left = 0
  end
  if left == 0 then redis.call('HDEL', k_study, 'wjudge') end
end

local k_study, k_trials = KEYS[1], KEYS[2]
local stale = stale_incarnation(k_study, ARGV[1])
if stale then return stale end
local k_idem = KEYS[10]
if k_idem then
  local stored = redis.call('GET', k_idem)
  if stored then return {'replay', stored} end
end
local n, state, value = ARGV[2], ARGV[3], ARGV[4]
local record = redis.call('HGET', k_trials, n)
if not record then return {'no_trial'} end
local note = redis.call('HGET', KEYS[8], n)
local ask, result = split_record(record)
if result then
  local previous = cjson.decode(result)
  if previous.s ~= 'expired' then return {'told', record, note} end
  -- A late tell for an expired trial counts unless its configuration went to another worker.
  if previous.q and redis.call('ZREM', KEYS[5], 'r' .. n) == 0 then return {'reoffered', record, note} end
  redis.call('HINCRBY', k_study, 'n_expired', -1)
else
  redis.call('ZREM', KEYS[3], n)
  redis.call('HINCRBY', k_study, 'n_running', -1)
end
local now = now_ms()
local body = ARGV[5]
if state == 'pruned' and value == '' then
  local last = redis.call('ZRANGE', KEYS[7], -1, -1)[1]
  if last then body = '"v":' .. string.sub(last, string.find(last, ':', 1, true) + 1) .. ',' .. body end
end
local final = ask .. '\n{"f":' .. now .. ',' .. body
redis.call('HSET', k_trials, n, final)
redis.call('HINCRBY', k_study, 'n_' .. state, 1)
local info = cjson.decode(ask)
if state == 'complete' then
  redis.call('ZADD', KEYS[4], value, n)
end
if info.l then
  local prefix = info.l .. ':'
  redis.call('HINCRBY', KEYS[6], prefix .. 'd', 1)
  if state == 'complete' then
    local best = redis.call('HGET', KEYS[6], prefix .. 'b')
    local v = tonumber(value)
    if not best or (ARGV[6] == 'minimize' and v < tonumber(best)) or (ARGV[6] == 'maximize' and v > tonumber(best)) then
      redis.call('HSET', KEYS[6], prefix .. 'b', value)
    end
  end
end
if state == 'complete' and redis.call('HEXISTS', k_study, 'wjudge') == 1 then
  judge_warm_start(k_study, KEYS[9], info, value, ARGV[6], ARGV[9], n)
end
if state == 'failed' and info.rf and (info.a or 0) < tonumber(redis.call('HGET', k_study, 'max_retries')) then
  redis.call('ZADD', KEYS[5], next_order(k_study), 'r' .. n)
end
if k_idem then redis.call('SET', k_idem, ARGV[7], 'EX', ARGV[8]) end
return {'ok', final, note}
