-- bench/webhook.lua (run by bench/bench-webhook): verifications per CPU
-- second of a signed body, through webhooks.verify and a verifier.
--   webhook.lua BODY_FILE SECRET TS SECONDS -> "verify=<rate> verifier=<rate>"
local path, secret, ts, seconds = ...
ts, seconds = tonumber(ts), tonumber(seconds)
local webhooks = require "paddle.webhooks"
local f = assert(io.open(path, "rb"))
local body = f:read("*a")
f:close()
local header = webhooks.sign(body, secret, ts)
local opts = { now = ts, tolerance = 5 }
local v = webhooks.verifier { secrets = secret }
assert(webhooks.verify(body, header, secret, opts))
assert(v:verify(body, header, opts))
local verify, clock = webhooks.verify, os.clock

local function rate(one)
  local n, start = 0, clock()
  local elapsed
  repeat
    for _ = 1, 10000 do
      if not one() then error("verification failed") end
    end
    n = n + 10000
    elapsed = clock() - start
  until elapsed >= seconds
  return n / elapsed
end

local functional = rate(function() return verify(body, header, secret, opts) end)
local object = rate(function() return v:verify(body, header, opts) end)
print(string.format("verify=%.0f verifier=%.0f", functional, object))
