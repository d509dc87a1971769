-- Move a study's sampler to a new level by hand (a region edit): any caller that read the state
-- at some version can propose the next one; a compare-and-set, so a zoom racing it does not also
-- move (a zoom moves in commit.lua, with the trials of the ask that judged the level).
-- KEYS[1] study  KEYS[2] regions
-- ARGV[1] uid  ARGV[2] version the caller read  ARGV[3] new sampler state JSON
-- ARGV[4] region JSON minus its opening brace
-- Returns {'advanced'} when this call made the change, {'stale'} when the version had moved on
-- (someone else advanced first), or {'gone'} when the study was deleted or recreated.
local k_study = KEYS[1]
if redis.call('HGET', k_study, 'uid') ~= ARGV[1] then return {'gone'} end
-- The new level's draws count from here, so its space-filling sequence starts at its beginning.
local start = redis.call('HGET', k_study, 'cursor')
if advance_level(k_study, KEYS[2], ARGV[2], ARGV[3], ARGV[4], start) then return {'advanced'} end
return {'stale'}
