// The Lua that makes the Redis limiter atomic: one script per operation, run with EVALSHA by ioredis's
// `defineCommand`. Each key is one hash (`r`/`rt`: request tokens and when they were last refilled; `t`/`tt`:
// the token budget and when it was last refilled), with a TTL that ends when both would be full again, so an
// expired key and a full one are the same state. Time comes from the Redis server (`TIME`) unless the caller
// passes one, so replicas with skewed clocks agree. The arithmetic is mirrored, expression for expression, by
// `local-rate-limiter.ts`; `rate-limiter-contract.ts` runs the same cases against both.

const readStateAndClock = `
local burst = tonumber(ARGV[1])
local rps = tonumber(ARGV[2])
local tpm = tonumber(ARGV[3])
local now
if ARGV[#ARGV] ~= "" then
  now = tonumber(ARGV[#ARGV])
else
  local time = redis.call("TIME")
  now = tonumber(time[1]) * 1000 + tonumber(time[2]) / 1000
end
local state = redis.call("HMGET", KEYS[1], "r", "rt", "t", "tt")
`;

/** KEYS: the key's hash. ARGV: burst, requests/s, tokens/min (0: none), "1" to refuse on a spent token budget or "0", now in ms or "". Returns {1, remaining, resetMs} or {0, retryAfterMs, 1 requests | 2 tokens}. */
export const admitScript = `${readStateAndClock}
local r = tonumber(state[1]) or burst
local rt = tonumber(state[2]) or now
r = math.min(burst, r + math.max(0, now - rt) * rps / 1000)
local t = 0
local tokenWait = 0
if tpm > 0 then
  t = tonumber(state[3]) or tpm
  local tt = tonumber(state[4]) or now
  t = math.min(tpm, t + math.max(0, now - tt) * tpm / 60000)
  if t < 0 and ARGV[4] == "1" then tokenWait = math.ceil(-t * 60000 / tpm) end
end
local requestWait = 0
if r < 1 then requestWait = math.ceil((1 - r) * 1000 / rps) end
if tokenWait > 0 or requestWait > 0 then
  if tokenWait >= requestWait then return {0, tokenWait, 2} end
  return {0, requestWait, 1}
end
r = r - 1
local resetMs = math.ceil((burst - r) * 1000 / rps)
local ttl = resetMs
if tpm > 0 then
  redis.call("HSET", KEYS[1], "r", r, "rt", now, "t", t, "tt", now)
  ttl = math.max(ttl, math.ceil((tpm - t) * 60000 / tpm))
else
  redis.call("HSET", KEYS[1], "r", r, "rt", now)
end
redis.call("PEXPIRE", KEYS[1], ttl + 1000)
return {1, math.floor(r), resetMs}
`;

/** KEYS: the key's hash. ARGV: burst, requests/s, tokens/min (> 0), tokens to charge (> 0), now in ms or "". Returns nothing. */
export const chargeScript = `${readStateAndClock}
local tokens = tonumber(ARGV[4])
local t = tonumber(state[3]) or tpm
local tt = tonumber(state[4]) or now
t = math.min(tpm, t + math.max(0, now - tt) * tpm / 60000) - tokens
redis.call("HSET", KEYS[1], "t", t, "tt", now)
local ttl = math.ceil((tpm - t) * 60000 / tpm)
local r = tonumber(state[1])
if r then
  local rt = tonumber(state[2]) or now
  r = math.min(burst, r + math.max(0, now - rt) * rps / 1000)
  ttl = math.max(ttl, math.ceil((burst - r) * 1000 / rps))
end
redis.call("PEXPIRE", KEYS[1], ttl + 1000)
return nil
`;
