-- Store the params of reserved trials and start their leases.
-- KEYS[1] study  KEYS[2] trials  KEYS[3] reserved  KEYS[4] leases  KEYS[5] enqueued
-- KEYS[6] idempotency key (optional)
-- ARGV[1] uid  ARGV[2] lease ms  ARGV[3] answer to store under the idempotency key
-- ARGV[4], ARGV[5], ...: pairs of trial number and ask JSON
-- Returns {'ok', deadline, lost number, ...}: lost numbers had their reservation expire first.
-- {'gone'} when the study was deleted meanwhile.
if redis.call('HGET', KEYS[1], 'uid') ~= ARGV[1] then return {'gone'} end
local deadline = now_ms() + tonumber(ARGV[2])
local out = {'ok', deadline}
local stored = 0
for i = 4, #ARGV, 2 do
  local n = ARGV[i]
  local slot = redis.call('HGET', KEYS[3], n)
  if slot then
    redis.call('HSET', KEYS[2], n, ARGV[i + 1])
    redis.call('HDEL', KEYS[3], n)
    redis.call('ZADD', KEYS[4], deadline, n)
    if string.sub(slot, 1, 1) == 'e' then redis.call('HDEL', KEYS[5], string.sub(slot, 2)) end
    stored = stored + 1
  else
    table.insert(out, n)
  end
end
redis.call('HINCRBY', KEYS[1], 'n_running', stored)
if KEYS[6] then
  if #out == 2 then
    redis.call('SET', KEYS[6], ARGV[3], 'EX', 86400)
  else
    redis.call('DEL', KEYS[6])
  end
end
return out
