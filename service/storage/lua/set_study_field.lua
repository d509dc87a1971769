-- Set a small field of a study's header: paused, note.
-- KEYS[1] study
-- ARGV[1] uid  ARGV[2] field  ARGV[3] value ('' deletes the field)
-- Returns 1, or 0 when the study is gone.
if redis.call('HGET', KEYS[1], 'uid') ~= ARGV[1] then return 0 end
if ARGV[3] == '' then
  redis.call('HDEL', KEYS[1], ARGV[2])
else
  redis.call('HSET', KEYS[1], ARGV[2], ARGV[3])
end
return 1
