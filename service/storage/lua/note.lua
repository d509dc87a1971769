-- Set or clear the note on a trial.
-- KEYS[1] study  KEYS[2] trials  KEYS[3] notes
-- ARGV[1] uid  ARGV[2] number  ARGV[3] note ('' clears it)
-- Returns {'ok'} | {'no_trial'} | {'gone'}
if redis.call('HGET', KEYS[1], 'uid') ~= ARGV[1] then return {'gone'} end
if redis.call('HEXISTS', KEYS[2], ARGV[2]) == 0 then return {'no_trial'} end
if ARGV[3] == '' then
  redis.call('HDEL', KEYS[3], ARGV[2])
else
  redis.call('HSET', KEYS[3], ARGV[2], ARGV[3])
end
return {'ok'}
