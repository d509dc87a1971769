-- Record a trial's outcome, once.
-- KEYS[1] study  KEYS[2] trials  KEYS[3] leases  KEYS[4] values  KEYS[5] pending  KEYS[6] levels
-- KEYS[7] this trial's curve  KEYS[8] notes  KEYS[9] idempotency key (optional)
-- ARGV[1] uid  ARGV[2] number  ARGV[3] state  ARGV[4] value ('' for none)
-- ARGV[5] result JSON minus its opening brace (this script prefixes the finish time, and for a
--         pruned trial told without a value, the last value of its curve)
-- ARGV[6] direction  ARGV[7] answer to store under the idempotency key  ARGV[8] seconds it is kept
-- Returns {'ok', record, note} | {'told', record, note} (already finished: Python compares outcomes)
-- | {'reoffered', record, note} (expired and handed out again) | {'replay', stored} | {'no_trial'} | {'gone'}
local k_study, k_trials = KEYS[1], KEYS[2]
if redis.call('HGET', k_study, 'uid') ~= ARGV[1] then return {'gone'} end
local k_idem = KEYS[9]
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
if state == 'failed' and info.rf and (info.a or 0) < tonumber(redis.call('HGET', k_study, 'max_retries')) then
  redis.call('ZADD', KEYS[5], next_order(k_study), 'r' .. n)
end
if k_idem then redis.call('SET', k_idem, ARGV[7], 'EX', ARGV[8]) end
return {'ok', final, note}
