-- Expire trials whose lease ran out; run lazily before reads that show states or counts.
-- KEYS[1] study  KEYS[2] trials  KEYS[3] leases  KEYS[4] reserved  KEYS[5] pending
-- ARGV[1] uid  ARGV[2] batch limit
-- Returns the number of trials that expired, or -1 when the study is gone.
if redis.call('HGET', KEYS[1], 'uid') ~= ARGV[1] then return -1 end
return expire_due(KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], now_ms(), tonumber(ARGV[2]))
