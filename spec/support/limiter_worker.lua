-- One process of a fleet sharing a Paddle rate limit (the limiter specs and
-- bench/bench-limiter run several of these at once). Environment:
--   BASE_URL, CALLS, RATE ("20/1"), LIMITER ("file:...", "redis://...", or
--   "" for independent per-process pacing), START_AT (socket.gettime() to
--   start at, so that every process starts together), MAX_RETRIES, API_KEY.
-- Prints one line: ok=N failed=N status429=N start=T finish=T acquire_us=X
-- (acquire_us: the mean cost of the limiter's acquire, measured around it).
local socket = require "socket"
local paddle = require "paddle"

local getenv = os.getenv
local calls = tonumber(getenv("CALLS") or "40")
local requests, per = (getenv("RATE") or "20/1"):match("^(%d+)/([%d.]+)$")
local limiter = getenv("LIMITER") or ""
local start_at = tonumber(getenv("START_AT") or "0")

local status429, failed, ok = 0, 0, 0
local client = paddle.new {
  api_key = getenv("API_KEY") or "pdl_sdbx_apikey_limiterspec",
  base_url = getenv("BASE_URL"),
  rate_limit = { requests = tonumber(requests), per = tonumber(per) },
  limiter = limiter ~= "" and limiter or nil,
  max_retries = tonumber(getenv("MAX_RETRIES") or "3"),
  max_retry_wait = 120,
  timeout = 600, -- the bench's independent processes may wait out several blocks
  on_request = function(r) if r.status == 429 then status429 = status429 + 1 end end,
}

local wait = start_at - socket.gettime()
if wait > 0 then socket.sleep(wait) end
local start = socket.gettime()
for _ = 1, calls do
  local data, err = client.request("GET", "/customers", { query = { per_page = 1 } })
  if data then
    ok = ok + 1
  else
    failed = failed + 1
    io.stderr:write(tostring(err), "\n")
  end
end
local finish = socket.gettime()
client.close()
print(string.format("ok=%d failed=%d status429=%d start=%.6f finish=%.6f", ok, failed, status429,
  start, finish))
