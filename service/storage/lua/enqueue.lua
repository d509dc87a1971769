-- Queue exact configurations; asks hand them out first, in order.
-- KEYS[1] study  KEYS[2] pending  KEYS[3] enqueued
-- ARGV[1] uid  ARGV[2..] params JSON, one per configuration
-- Returns {'ok', id, id, ...} | {'gone'}
if redis.call('HGET', KEYS[1], 'uid') ~= ARGV[1] then return {'gone'} end
local out = {'ok'}
for i = 2, #ARGV do
  local id = redis.call('HINCRBY', KEYS[1], 'eseq', 1)
  redis.call('HSET', KEYS[3], id, ARGV[i])
  redis.call('ZADD', KEYS[2], next_order(KEYS[1]), 'e' .. id)
  table.insert(out, id)
end
return out
