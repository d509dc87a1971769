-- Start an import into a hidden incarnation: refused when the name is taken.
-- KEYS[1] hone:{S}:study  KEYS[2] hone:{S}:staging
-- ARGV[1] the new uid  ARGV[2] imports started before this (ms) are taken for dead
-- Returns {'exists'} | {'ok', dead uid, ...}: the uids of dead imports, whose keys the caller sweeps.
if redis.call('EXISTS', KEYS[1]) == 1 then return {'exists'} end
local now = now_ms()
local out = {'ok'}
local entries = redis.call('HGETALL', KEYS[2])
for i = 1, #entries, 2 do
  if tonumber(entries[i + 1]) < tonumber(ARGV[2]) then
    redis.call('HDEL', KEYS[2], entries[i])
    table.insert(out, entries[i])
  end
end
redis.call('HSET', KEYS[2], ARGV[1], now)
return out
