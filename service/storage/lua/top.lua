-- The k best complete trials, best first.
-- KEYS[1] values  KEYS[2] trials  KEYS[3] notes
-- ARGV[1] direction  ARGV[2] k
-- Returns {number, record, note, number, record, note, ...} (note false when there is none)
local k = tonumber(ARGV[2])
local numbers
if ARGV[1] == 'maximize' then
  numbers = redis.call('ZREVRANGE', KEYS[1], 0, k - 1)
else
  numbers = redis.call('ZRANGE', KEYS[1], 0, k - 1)
end
local out = {}
for _, n in ipairs(numbers) do
  table.insert(out, n)
  table.insert(out, redis.call('HGET', KEYS[2], n))
  table.insert(out, redis.call('HGET', KEYS[3], n))
end
return out
