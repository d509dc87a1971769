-- Record a point of a running trial's learning curve and decide whether to prune it.
-- KEYS[1] study  KEYS[2] trials  KEYS[3] curve of this trial
-- KEYS[4] the step's zset (median pruner), or the curve key again when unused
-- KEYS[5] levels  KEYS[6..] the rungs this step has reached (asha pruner), lowest first
-- ARGV[1] uid of the trial's incarnation  ARGV[2] number  ARGV[3] step  ARGV[4] value  ARGV[5] max curve points
-- ARGV[6] mode: none | median | asha  ARGV[7] direction
-- ARGV[8] warmup steps  ARGV[9] min trials  ARGV[10] reduction factor
-- Returns {'ok', prune (0|1)} | {'finished', record} | {'no_trial'} | {'recreated'} | {'gone'}
local stale = stale_incarnation(KEYS[1], ARGV[1])
if stale then return stale end
local n, step, value = ARGV[2], tonumber(ARGV[3]), ARGV[4]
local record = redis.call('HGET', KEYS[2], n)
if not record then return {'no_trial'} end
if is_finished(record) then return {'finished', record} end

local curve = KEYS[3]
redis.call('ZREMRANGEBYSCORE', curve, step, step)
redis.call('ZADD', curve, step, step .. ':' .. value)
local excess = redis.call('ZCARD', curve) - tonumber(ARGV[5])
if excess > 0 then redis.call('ZREMRANGEBYRANK', curve, 0, excess - 1) end

local v = tonumber(value)
local minimize = ARGV[7] == 'minimize'
local function worse(a, b)
  if minimize then return a > b end
  return a < b
end

local prune = 0
local mode = ARGV[6]
if mode == 'median' then
  local at_step = KEYS[4]
  redis.call('ZREM', at_step, n)
  local others = redis.call('ZCARD', at_step)
  if step >= tonumber(ARGV[8]) and others >= tonumber(ARGV[9]) then
    local middle = redis.call('ZRANGE', at_step, math.floor((others - 1) / 2), math.floor(others / 2), 'WITHSCORES')
    local median = tonumber(middle[2])
    if #middle == 4 then median = (median + tonumber(middle[4])) / 2 end
    if worse(v, median) then prune = 1 end
  end
  redis.call('ZADD', at_step, value, n)
elseif mode == 'asha' then
  local eta = tonumber(ARGV[10])
  for i = 6, #KEYS do
    local rung = KEYS[i]
    if not redis.call('ZSCORE', rung, n) then
      redis.call('ZADD', rung, value, n)
      -- The first rung's count of the trial's level: ask.lua judges a level from these trials
      -- once enough of them reached it, before they finish.
      local level = i == 6 and cjson.decode((split_record(record))).l
      if level then redis.call('HINCRBY', KEYS[5], level .. ':r', 1) end
      local rank
      if minimize then rank = redis.call('ZRANK', rung, n) else rank = redis.call('ZREVRANK', rung, n) end
      local keep = math.max(1, math.floor(redis.call('ZCARD', rung) / eta))
      if rank >= keep then prune = 1 end
    end
  end
end
return {'ok', prune}
