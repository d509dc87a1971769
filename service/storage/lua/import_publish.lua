-- Publish an import: check what arrived against what the stream announced, then write the
-- study key, which makes the incarnation the study's in one step.
-- KEYS[1] hone:{S}:study  KEYS[2] hone:{S}:staging  KEYS[3] trials  KEYS[4] values  KEYS[5] pending
-- KEYS[6] regions
-- ARGV[1] uid  ARGV[2] trials  ARGV[3] complete trials  ARGV[4] queued configurations
-- ARGV[5] recorded regions  ARGV[6..] study field, value, field, value, ...
-- Returns {'ok', created ms} | {'exists'} | {'gone'} | {'mismatch', what, expected, found}
if redis.call('EXISTS', KEYS[1]) == 1 then return {'exists'} end
if not redis.call('HGET', KEYS[2], ARGV[1]) then return {'gone'} end
local checks = {
  {'trials', ARGV[2], redis.call('HLEN', KEYS[3])},
  {'complete trials', ARGV[3], redis.call('ZCARD', KEYS[4])},
  {'queued configurations', ARGV[4], redis.call('ZCARD', KEYS[5])},
  {'regions', ARGV[5], redis.call('HLEN', KEYS[6])},
}
for _, check in ipairs(checks) do
  if tonumber(check[2]) ~= check[3] then return {'mismatch', check[1], check[2], check[3]} end
end
local now = now_ms()
redis.call('HSET', KEYS[1], 'uid', ARGV[1])
for i = 6, #ARGV, 2 do
  redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])
end
redis.call('HDEL', KEYS[2], ARGV[1])
return {'ok', now}
