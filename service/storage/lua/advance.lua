-- Move a study's sampler to a new level: a compare-and-set on the state version, so of several
-- processes that decide to zoom at once exactly one succeeds. Also the way to record a hand-made
-- region change: any caller that read the state at some version can propose the next one.
-- KEYS[1] study  KEYS[2] regions
-- ARGV[1] uid  ARGV[2] version the caller read  ARGV[3] new sampler state JSON
-- ARGV[4] region JSON minus its opening brace (this script puts level, version, start and time in front)
-- ARGV[5] ms the caller claims the preparing of the new level's first draws for ('0': it prepares
-- none), so the asks racing it meanwhile do not prepare the same draws again (ask.lua `pclaim`)
-- Returns {'advanced', level, version, level_start, next trial number} when this call made the change,
-- {'stale', level, version} when the version had moved on (someone else advanced first),
-- or {'gone'} when the study was deleted or recreated.
local k_study = KEYS[1]
if redis.call('HGET', k_study, 'uid') ~= ARGV[1] then return {'gone'} end
local version = tonumber(redis.call('HGET', k_study, 'sver'))
if version ~= tonumber(ARGV[2]) then
  return {'stale', redis.call('HGET', k_study, 'level'), version}
end
local level = redis.call('HINCRBY', k_study, 'level', 1)
version = redis.call('HINCRBY', k_study, 'sver', 1)
-- The new level's draws count from here, so its space-filling sequence starts at its beginning.
local start = redis.call('HGET', k_study, 'cursor')
local now = now_ms()
redis.call('HSET', k_study, 'sstate', ARGV[3], 'lstart', start)
if ARGV[5] ~= '0' then redis.call('HSET', k_study, 'pclaim', version .. ' ' .. (now + tonumber(ARGV[5]))) end
redis.call('HSET', KEYS[2], level, '{"level":' .. level .. ',"version":' .. version .. ',"start":' .. start
  .. ',"at":' .. now .. ',' .. ARGV[4])
return {'advanced', level, version, start, redis.call('HGET', k_study, 'seq')}
