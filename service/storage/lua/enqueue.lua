-- Queue exact configurations; asks hand them out first, in order.
-- KEYS[1] study  KEYS[2] pending  KEYS[3] enqueued
-- ARGV[1] uid  ARGV[2..] params JSON, one per configuration
-- Returns {'ok', id, id, ...} | {'gone'}
if redis.call('HGET', KEYS[1], 'uid') ~= ARGV[1] then return {'gone'} end
local out = enqueue_from(KEYS[1], KEYS[3], 2, function(id)
  redis.call('ZADD', KEYS[2], next_order(KEYS[1]), 'e' .. id)
end)
table.insert(out, 1, 'ok')
return out
