-- Renew a running trial's lease.
-- KEYS[1] study  KEYS[2] trials  KEYS[3] leases  KEYS[4] reserved  KEYS[5] pending  KEYS[6] notes
-- ARGV[1] uid of the trial's incarnation  ARGV[2] number  ARGV[3] lease ms  ARGV[4] expiry batch limit
-- Returns {'ok', record, note, deadline} | {'finished', record, note} | {'no_trial'} | {'recreated'} | {'gone'}
local stale = stale_incarnation(KEYS[1], ARGV[1])
if stale then return stale end
local now = now_ms()
expire_due(KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], now, tonumber(ARGV[4]))
local record = redis.call('HGET', KEYS[2], ARGV[2])
if not record then return {'no_trial'} end
local note = redis.call('HGET', KEYS[6], ARGV[2])
if is_finished(record) then return {'finished', record, note} end
local deadline = now + tonumber(ARGV[3])
redis.call('ZADD', KEYS[3], 'XX', deadline, ARGV[2])
return {'ok', record, note, deadline}
