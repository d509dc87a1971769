-- An ask: hand out a draw prepared ahead when one fits (one round trip), else reserve trial
-- numbers; Python then computes params and calls commit.lua.
-- KEYS[1] study  KEYS[2] trials  KEYS[3] leases  KEYS[4] reserved  KEYS[5] pending
-- KEYS[6] enqueued  KEYS[7] levels  KEYS[8] prepared  KEYS[9] configs  KEYS[10] warm
-- KEYS[11] values  KEYS[12] the ASHA pruner's first rung  KEYS[13] idempotency key (optional)
-- ARGV[1] uid  ARGV[2] count  ARGV[3] reservation ttl ms  ARGV[4] expiry batch limit
-- ARGV[5] worker  ARGV[6] resume ('1' or '0')  ARGV[7] lease ms
-- ARGV[8] max trials per study (0 = no limit)  ARGV[9] ms an idempotency key stays pending
-- ARGV[10] idempotency answer prefix (the trial number completes it)
-- ARGV[11] seconds an idempotency answer is kept
-- ARGV[12] ms a claim to judge a level or to prepare draws holds (its claimer may have died)
-- ARGV[13] how many of the best trials an ask that judges the level gets with its reservation
-- ARGV[14] direction
-- Study fields read here: `judge` "<version> <asked> <done>" (commit.lua), the counts from which
-- the level of that state version may move ("<version>" alone: it never moves); `jclaim` and
-- `pclaim` "<version> <until ms>", an ask judging that level or preparing its draws right now.
-- A prepared draw is handed out while the level is below its judge point, or while another ask
-- holds the claim to judge it: only the ask that can move the level pays two round trips.
-- Returns one of:
--   {'gone'}                         no study with this uid
--   {'replay', stored}               the idempotency key already has an answer
--   {'busy'}                         the same idempotency key is being served right now
--   {'paused'} / {'limit', seq}      study paused / trial limit reached
--   {'exhausted', running}           a finite sampler has handed out every point
--   {'resumed', now, n1, n2, ...}    the worker's own running trials, leases renewed
--   {'handed', expired, deadline, n, record}   a prepared draw, stored and leased
--   {'ok', now, level, version, level_start, state JSON, level asked, level done,
--    level's trials at the pruner's first rung, expired, next number, next draw, judge, prepare,
--    running, ranking, m, m triples of number, value, record (the best trials), then
--    n, slot, payload, n, slot, payload, ...}
--   judge '1': the level may be judgeable and this ask holds the claim (or the judge point is
--   unknown): Python asks its sampler whether to move. prepare '1': no draw of this version is
--   prepared for the next ask nor being prepared, and this ask holds the claim to prepare them.
--   running: the study's running trials, before this reservation is stored. ranking: '' or what
--   an ask that judges the level gets its best trials by, as JudgePoint.reached decides: 'told'
--   (complete trials, by value) or 'first_rung' (by value at the pruner's first rung, once half
--   the level reached it); so the zoom needs no read of its own.
local k_study, k_trials, k_leases, k_reserved, k_pending = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
if redis.call('HGET', k_study, 'uid') ~= ARGV[1] then return {'gone'} end
local k_idem = KEYS[13]
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
local level = redis.call('HGET', k_study, 'level')
local cursor = tonumber(redis.call('HGET', k_study, 'cursor'))
local sver = redis.call('HGET', k_study, 'sver')
local claim_ms = tonumber(ARGV[12])

-- True when the study field `name` holds a claim on this state version that has not run out.
local function claimed(name)
  local claim = redis.call('HGET', k_study, name)
  if not claim then return false end
  local version, deadline = string.match(claim, '^(%d+) (%d+)$')
  return version == sver and now < tonumber(deadline)
end

local function claim(name)
  redis.call('HSET', k_study, name, sver .. ' ' .. (now + claim_ms))
end

-- The level's finished trials, or if more, those the ASHA pruner ranked at its first rung
-- (report.lua counts them): a level with pruning is judged from trials still training.
local function level_done()
  local counts = redis.call('HMGET', KEYS[7], level .. ':d', level .. ':r')
  return math.max(tonumber(counts[1] or '0'), tonumber(counts[2] or '0'))
end

-- '1' when Python must ask the sampler whether to move, once the level holds `asked` trials:
-- the judge point is unknown, or reached and no other ask is judging (this one then claims it,
-- and `judged_done` keeps the point's finished count).
local judged_done
local function judge_verdict(asked)
  local record = redis.call('HGET', k_study, 'judge')
  local version, at_asked, at_done = string.match(record or '', '^(%d+) ?(%d*) ?(%d*)$')
  if version ~= sver then return '1' end
  if at_asked == '' or asked < tonumber(at_asked) then return '0' end
  if level_done() < tonumber(at_done) then return '0' end
  if claimed('jclaim') then return '0' end
  claim('jclaim')
  judged_done = tonumber(at_done)
  return '1'
end
local judge

-- A warm start's configurations alternate with fresh draws, one of them first: the next one is
-- due while no more of them were handed out than fresh draws (tell.lua drops them once beaten).
local warm_left = redis.call('LLEN', KEYS[10])
local warm_handed = warm_left > 0 and tonumber(redis.call('HGET', k_study, 'whanded') or '0') or 0

-- The common case: one trial, nothing to retry or enqueued, and its draw already computed.
if count == 1 and redis.call('ZCARD', k_pending) == 0 and not (warm_left > 0 and warm_handed <= cursor) then
  local field = sver .. ':' .. seq .. ':' .. cursor
  local prepared = redis.call('HGET', KEYS[8], field)
  if prepared then redis.call('HDEL', KEYS[8], field) end
  -- "<fingerprint> <draw fields>": a draw whose configuration was handed out meanwhile (by a
  -- batch, an enqueued one) is not handed again; the reservation below lets Python draw anew.
  local space = prepared and string.find(prepared, ' ', 1, true)
  if space then judge = judge_verdict(tonumber(redis.call('HGET', KEYS[7], level .. ':a') or '0') + 1) end
  if space and judge == '0' and redis.call('SADD', KEYS[9], string.sub(prepared, 1, space - 1)) == 1 then
    local fields = string.sub(prepared, space + 1)
    redis.call('HSET', k_study, 'cursor', cursor + 1, 'seq', seq + 1)
    redis.call('HINCRBY', k_study, 'n_running', 1)
    redis.call('HINCRBY', KEYS[7], level .. ':a', 1)
    local asker = ',"t":' .. now
    if ARGV[5] ~= '' then asker = asker .. ',"w":' .. cjson.encode(ARGV[5]) end
    local record = '{' .. fields .. asker .. '}'
    local deadline = now + tonumber(ARGV[7])
    redis.call('HSET', k_trials, seq, record)
    redis.call('ZADD', k_leases, deadline, seq)
    if k_idem then redis.call('SET', k_idem, ARGV[10] .. seq, 'EX', ARGV[11]) end
    return {'handed', expired, deadline, seq, record}
  end
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

local wanted = count - #slots
if wanted > 0 then
  local limit = redis.call('HGET', k_study, 'draw_limit')
  local room = limit and tonumber(limit) - cursor or wanted
  local draws, warm_taken = 0, 0
  for _ = 1, wanted do
    if warm_left > warm_taken and (warm_handed + warm_taken <= cursor + draws or draws >= room) then
      local id = redis.call('LPOP', KEYS[10])
      warm_taken = warm_taken + 1
      table.insert(slots, 'e' .. id)
      table.insert(payloads, redis.call('HGET', KEYS[6], id) or '')
    elseif draws < room then
      table.insert(slots, 'f' .. (cursor + draws))
      table.insert(payloads, '')
      draws = draws + 1
    end
  end
  if draws > 0 then
    redis.call('HSET', k_study, 'cursor', cursor + draws)
    redis.call('HINCRBY', KEYS[7], level .. ':a', draws)
  end
  if warm_taken > 0 then redis.call('HSET', k_study, 'whanded', warm_handed + warm_taken) end
end
if #slots == 0 then
  return {'exhausted', redis.call('HGET', k_study, 'n_running')}
end
local first = redis.call('HINCRBY', k_study, 'seq', #slots) - #slots
if k_idem then redis.call('SET', k_idem, 'pending', 'PX', tonumber(ARGV[9])) end

local asked = tonumber(redis.call('HGET', KEYS[7], level .. ':a') or '0')
local next_number, next_draw = first + #slots, redis.call('HGET', k_study, 'cursor')
-- A draw the fast path found but could not hand out leaves `judge` decided ('1'): this ask claimed.
if judge ~= '1' then judge = judge_verdict(asked) end
local prepare = '0'
if redis.call('HEXISTS', KEYS[8], sver .. ':' .. next_number .. ':' .. next_draw) == 0 and not claimed('pclaim') then
  claim('pclaim')
  prepare = '1'
end
local counts = redis.call('HMGET', KEYS[7], level .. ':d', level .. ':r')
local ranking, best = '', {}
if judge == '1' and judged_done and tonumber(ARGV[13]) > 0 then
  local ranked = KEYS[11]
  ranking = 'told'
  if tonumber(counts[2] or '0') >= judged_done then ranking, ranked = 'first_rung', KEYS[12] end
  best = redis.call(ARGV[14] == 'maximize' and 'ZREVRANGE' or 'ZRANGE', ranked, 0, tonumber(ARGV[13]) - 1, 'WITHSCORES')
end
local out = {'ok', now, level, sver, redis.call('HGET', k_study, 'lstart'),
  redis.call('HGET', k_study, 'sstate'), asked, counts[1] or '0', counts[2] or '0',
  expired, next_number, next_draw, judge, prepare, redis.call('HGET', k_study, 'n_running'),
  ranking, #best / 2}
for i = 1, #best, 2 do
  table.insert(out, best[i])
  table.insert(out, best[i + 1])
  table.insert(out, redis.call('HGET', k_trials, best[i]))
end
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
