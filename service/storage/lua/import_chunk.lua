-- Write one chunk of an import into its hidden incarnation, all of it or nothing.
-- KEYS[1] hone:{S}:staging  KEYS[2] trials  KEYS[3..] every other key the chunk writes
-- ARGV[1] uid  then groups of four: op, key index (into KEYS), field or member, value or score
--   op 'trial': a trial record (refused if that number is already in)  'hset': a hash field
--   'zadd': a sorted-set member  'zaddnx': a sorted-set member unless it is already there
--   'sadd': a set member (its value unused)
-- Returns {'ok'} | {'gone'} (the import was aborted) | {'duplicate', number}
if not redis.call('HGET', KEYS[1], ARGV[1]) then return {'gone'} end
-- Check before writing: a script that stops half-way keeps what it wrote.
local numbers = {}
for i = 2, #ARGV, 4 do
  if ARGV[i] == 'trial' then
    local n = ARGV[i + 2]
    if numbers[n] or redis.call('HEXISTS', KEYS[2], n) == 1 then return {'duplicate', n} end
    numbers[n] = true
  end
end
for i = 2, #ARGV, 4 do
  local op, key = ARGV[i], KEYS[tonumber(ARGV[i + 1])]
  if op == 'trial' or op == 'hset' then
    redis.call('HSET', key, ARGV[i + 2], ARGV[i + 3])
  elseif op == 'sadd' then
    redis.call('SADD', key, ARGV[i + 2])
  elseif op == 'zadd' then
    redis.call('ZADD', key, ARGV[i + 3], ARGV[i + 2])
  else
    redis.call('ZADD', key, 'NX', ARGV[i + 3], ARGV[i + 2])
  end
end
return {'ok'}
