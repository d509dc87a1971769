-- Create a study unless one of that name exists.
-- KEYS[1] hone:{S}:study  KEYS[2] enqueued  KEYS[3] warm (of the new uid)
-- ARGV[1] uid  ARGV[2] spec JSON  ARGV[3] effective seed  ARGV[4] max retries
-- ARGV[5] draw limit ('' when the sampler never runs out)  ARGV[6] initial sampler state JSON
-- ARGV[7] warm start report JSON ('' for a cold start)  ARGV[8..] the warm start's configurations,
--         best first: they alternate with fresh draws (ask.lua) until fresh draws beat them (tell.lua)
-- Returns {'created', created_ms} or {'exists', stored spec JSON}.
if redis.call('EXISTS', KEYS[1]) == 1 then
  return {'exists', redis.call('HGET', KEYS[1], 'spec')}
end
local now = now_ms()
redis.call('HSET', KEYS[1], 'uid', ARGV[1], 'spec', ARGV[2], 'created', now, 'seed', ARGV[3],
  'max_retries', ARGV[4], 'sstate', ARGV[6], 'seq', 0, 'cursor', 0, 'level', 0, 'sver', 0, 'lstart', 0,
  'pseq', 0, 'paused', 0)
if ARGV[5] ~= '' then
  redis.call('HSET', KEYS[1], 'draw_limit', ARGV[5])
end
if ARGV[7] ~= '' then
  redis.call('HSET', KEYS[1], 'warm_start', ARGV[7])
end
enqueue_from(KEYS[1], KEYS[2], 8, function(id) redis.call('RPUSH', KEYS[3], id) end)
if #ARGV >= 8 then redis.call('HSET', KEYS[1], 'wjudge', 1) end
return {'created', now}
