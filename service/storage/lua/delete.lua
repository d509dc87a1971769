-- Delete a study's header; its data keys are swept afterwards by uid (see store.delete_study).
-- KEYS[1] hone:{S}:study
-- ARGV[1] uid the caller saw
-- Returns 1 when deleted, 0 when the study is gone or was recreated meanwhile.
if redis.call('HGET', KEYS[1], 'uid') ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
return 1
