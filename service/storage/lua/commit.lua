-- Store the params of reserved trials, start their leases, and keep draws prepared ahead; for
-- the ask that judged its level, move the study to the new level in the same step, so no ask
-- ever finds the new level without its first draws prepared.
-- KEYS[1] study  KEYS[2] trials  KEYS[3] reserved  KEYS[4] leases  KEYS[5] enqueued
-- KEYS[6] prepared  KEYS[7] configs  KEYS[8] regions  KEYS[9] idempotency key (optional)
-- ARGV[1] uid  ARGV[2] lease ms  ARGV[3] answer to store under the idempotency key
-- ARGV[4] seconds the answer is kept
-- ARGV[5] the sampler state version the draws prepared ahead were drawn at ('' when none follow)
-- ARGV[6] that level's judge point record for ask.lua: "<version> <asked> <done>" or "<version>"
-- ARGV[7] the version the study moves from to a new level ('' for no move), ARGV[8] the new
-- level's sampler state JSON, ARGV[9] its region JSON minus the opening brace, ARGV[10] the draw
-- index its sequence counts from (see advance_level)
-- ARGV[11] how many trials follow; then triples of trial number, config mark and ask JSON (the
-- mark is the params' fingerprint, after a '!' for a fresh draw, which must not repeat one);
-- then pairs of prepared field and "<fingerprint> <draw fields>", which replace every draw
-- prepared before, unless the study is not at their version (it moved past them meanwhile, or
-- the move asked for lost its compare-and-set: they were drawn for the level it would have made).
-- Returns {'ok', deadline, moved ('1' when this call made the move), lost number, ...}: lost
-- numbers had their reservation expire first. {'repeated', number, ...} when fresh draws repeat
-- configurations handed out before: nothing is stored (nor moved), the caller draws those again.
-- {'gone'} when the study was deleted meanwhile.
if redis.call('HGET', KEYS[1], 'uid') ~= ARGV[1] then return {'gone'} end
local last = 11 + 3 * tonumber(ARGV[11])
local repeated, batch = {'repeated'}, {}
for i = 12, last, 3 do
  local mark = ARGV[i + 1]
  local fingerprint = string.gsub(mark, '^!', '')
  -- A fresh draw may repeat neither a stored configuration nor one earlier in this batch.
  if mark ~= fingerprint and (batch[fingerprint] or redis.call('SISMEMBER', KEYS[7], fingerprint) == 1) then
    table.insert(repeated, ARGV[i])
  end
  batch[fingerprint] = true
end
if #repeated > 1 then return repeated end
local moved = ARGV[7] ~= '' and advance_level(KEYS[1], KEYS[8], ARGV[7], ARGV[8], ARGV[9], ARGV[10]) ~= nil
local deadline = now_ms() + tonumber(ARGV[2])
local out = {'ok', deadline, moved and '1' or '0'}
local stored = 0
for i = 12, last, 3 do
  local n = ARGV[i]
  local slot = redis.call('HGET', KEYS[3], n)
  if slot then
    redis.call('SADD', KEYS[7], (string.gsub(ARGV[i + 1], '^!', '')))
    redis.call('HSET', KEYS[2], n, ARGV[i + 2])
    redis.call('HDEL', KEYS[3], n)
    redis.call('ZADD', KEYS[4], deadline, n)
    if string.sub(slot, 1, 1) == 'e' then redis.call('HDEL', KEYS[5], string.sub(slot, 2)) end
    stored = stored + 1
  else
    table.insert(out, n)
  end
end
redis.call('HINCRBY', KEYS[1], 'n_running', stored)
if ARGV[5] ~= '' and (ARGV[7] == '' or moved) and redis.call('HGET', KEYS[1], 'sver') == ARGV[5] then
  -- Draws are pure functions of their field, so whichever process wrote them, they are right;
  -- replacing them all drops the ones an older state version or a used number left behind.
  -- Draws of a version the study has left would only push out the new level's.
  redis.call('DEL', KEYS[6])
  for i = last + 1, #ARGV, 2 do
    redis.call('HSET', KEYS[6], ARGV[i], ARGV[i + 1])
  end
  redis.call('HSET', KEYS[1], 'judge', ARGV[6])
  redis.call('HDEL', KEYS[1], 'pclaim')
end
if KEYS[9] then
  if #out == 3 then
    redis.call('SET', KEYS[9], ARGV[3], 'EX', ARGV[4])
  else
    redis.call('DEL', KEYS[9])
  end
end
return out
