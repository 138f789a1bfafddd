-- The retry and pacing policy of the C session, on an injected clock.
local core = require "paddle.core"

local function session(opts)
  opts = opts or {}
  opts.api_key = opts.api_key or "pdl_sdbx_apikey_test"
  return core.session(opts)
end

describe("session:decide", function()
  it("does not retry successes and client errors", function()
    local s = session()
    for _, status in ipairs { 200, 201, 204, 400, 401, 403, 404, 409, 422 } do
      assert.equal("done", s:decide("GET", 1, status, nil, true, nil, 0))
    end
  end)

  it("retries idempotent methods on 429, 5xx and 52x", function()
    local s = session { backoff_base = 0.1 }
    for _, method in ipairs { "GET", "PATCH", "DELETE" } do
      for _, status in ipairs { 500, 502, 503, 504, 520, 521, 522, 523, 524 } do
        local action, wait = s:decide(method, 1, status, nil, true, nil, 0)
        assert.equal("retry", action, method .. " " .. status)
        assert.is_true(wait >= 0 and wait <= 0.1)
      end
      for _, status in ipairs { 501, 505, 525 } do
        assert.equal("done", s:decide(method, 1, status, nil, true, nil, 0))
      end
    end
  end)

  it("retries a POST only on 429 or when nothing was sent", function()
    local s = session()
    assert.equal("retry", (s:decide("POST", 1, 429, nil, true, "1", 0)))
    assert.equal("done", s:decide("POST", 1, 500, nil, true, nil, 0))
    assert.equal("done", s:decide("POST", 1, 503, nil, true, "1", 0))
    assert.equal("retry", (s:decide("POST", 1, nil, "connect_error", false, nil, 0)))
    assert.equal("done", s:decide("POST", 1, nil, "connection_reset", true, nil, 0))
    assert.equal("done", s:decide("POST", 1, nil, "timeout", true, nil, 0))
    assert.equal("retry", (s:decide("POST", 1, nil, "timeout", false, nil, 0)))
  end)

  it("retries transient transport failures of idempotent methods only", function()
    local s = session()
    for _, code in ipairs { "connect_error", "timeout", "connection_reset", "truncated_body" } do
      assert.equal("retry", (s:decide("GET", 1, nil, code, true, nil, 0)))
    end
    for _, code in ipairs { "tls_error", "protocol_error", "response_too_large" } do
      assert.equal("done", s:decide("GET", 1, nil, code, false, nil, 0))
    end
  end)

  it("stops after max_retries", function()
    local s = session { max_retries = 2 }
    assert.equal("retry", (s:decide("GET", 1, 500, nil, true, nil, 0)))
    assert.equal("retry", (s:decide("GET", 2, 500, nil, true, nil, 0)))
    assert.equal("done", s:decide("GET", 3, 500, nil, true, nil, 0))
    local none = session { max_retries = 0 }
    assert.equal("done", none:decide("GET", 1, 503, nil, true, nil, 0))
  end)

  it("backs off exponentially with full jitter, capped by max_retry_wait", function()
    local s = session { backoff_base = 1, max_retry_wait = 5 }
    local highest = { 0, 0, 0 }
    for _ = 1, 500 do
      for attempt = 1, 3 do
        local _, wait = s:decide("GET", attempt, 500, nil, true, nil, 0)
        if wait > highest[attempt] then highest[attempt] = wait end
      end
    end
    assert.is_true(highest[1] <= 1 and highest[1] > 0.9)
    assert.is_true(highest[2] <= 2 and highest[2] > 1.8)
    assert.is_true(highest[3] <= 4 and highest[3] > 3.6)
  end)

  it("honours Retry-After seconds exactly and blocks the client", function()
    local s = session()
    local action, wait = s:decide("GET", 1, 429, nil, true, "7", 100)
    assert.equal("retry", action)
    assert.equal(7, wait)
    local blocked, why = s:acquire(101)
    assert.equal(6, blocked)
    assert.equal("blocked", why)
    assert.equal(0, s:acquire(107))
  end)

  it("takes Paddle's 60 s block for a 429 without Retry-After", function()
    local s = session()
    local action, wait = s:decide("GET", 1, 429, nil, true, nil, 0)
    assert.same({ "retry", 60 }, { action, wait })
    assert.equal(50, (s:acquire(10)))
    local impatient = session { max_retry_wait = 5 }
    assert.same({ "give_up", 60 }, { impatient:decide("GET", 1, 429, nil, true, nil, 0) })
  end)

  it("gives up when Retry-After exceeds max_retry_wait, still blocking", function()
    local s = session { max_retry_wait = 10 }
    local action, retry_after = s:decide("GET", 1, 429, nil, true, "60", 0)
    assert.equal("give_up", action)
    assert.equal(60, retry_after)
    assert.equal(59, (s:acquire(1)))
  end)

  it("blocks after a 429 even when no retry is left", function()
    local s = session { max_retries = 0 }
    assert.equal("done", s:decide("POST", 1, 429, nil, true, "30", 0))
    assert.equal(20, (s:acquire(10)))
  end)

  it("honours Retry-After on a 503 of an idempotent request", function()
    local s = session()
    local _, wait = s:decide("GET", 1, 503, nil, true, "3", 0)
    assert.equal(3, wait)
    assert.equal(0, s:acquire(0)) -- only a 429 blocks the client
  end)
end)

describe("core.retry_after", function()
  it("parses delay-seconds", function()
    assert.equal(120, core.retry_after("120"))
    assert.equal(0, core.retry_after("0"))
    assert.equal(5, core.retry_after(" 5 "))
    assert.is_nil(core.retry_after("-1"))
    assert.is_nil(core.retry_after("1.5"))
    assert.is_nil(core.retry_after("soon"))
  end)

  it("parses the three HTTP-date forms relative to now", function()
    local now = 784111777 -- Sun, 06 Nov 1994 08:49:37 GMT
    assert.equal(10, core.retry_after("Sun, 06 Nov 1994 08:49:47 GMT", now))
    assert.equal(10, core.retry_after("Sunday, 06-Nov-94 08:49:47 GMT", now))
    assert.equal(10, core.retry_after("Sun Nov  6 08:49:47 1994", now))
    assert.equal(0, core.retry_after("Sun, 06 Nov 1994 08:49:00 GMT", now)) -- in the past
    assert.is_nil(core.retry_after("Sun, 06 Foo 1994 08:49:47 GMT", now))
    assert.is_nil(core.retry_after("Sun, 06 Nov 1994 08:49:47 GMT trailing", now))
  end)
end)

describe("session:acquire pacing", function()
  it("lets `requests` through per window, then waits for the oldest to age out", function()
    local s = session { rate_requests = 3, rate_per = 10 }
    assert.equal(0, s:acquire(0))
    assert.equal(0, s:acquire(1))
    assert.equal(0, s:acquire(2))
    local wait, why = s:acquire(3)
    assert.equal("pacing", why)
    assert.is_true(wait > 7 and wait <= 7.2) -- 10 s after the first, plus 1% and 50 ms
    assert.equal(0, s:acquire(10.2))
    assert.is_true(s:acquire(10.3) > 0.7) -- next slot: 10 s after t=1
  end)

  it("never lets more than `requests` into any window", function()
    local s = session { rate_requests = 50, rate_per = 1 }
    local sent, t = {}, 0
    while #sent < 400 do
      local wait = s:acquire(t)
      if wait == 0 then sent[#sent + 1] = t else t = t + wait end
      t = t + 0.001
    end
    for i = 51, #sent do
      assert.is_true(sent[i] - sent[i - 50] >= 1, "window starting at " .. sent[i - 50])
    end
    -- and does not waste the allowance: 400 sends in about 8 windows
    assert.is_true(sent[#sent] < 7.8)
  end)

  it("does not pace at all when the limit is off", function()
    local s = session()
    for i = 1, 1000 do assert.equal(0, s:acquire(i / 1e6)) end
  end)
end)

describe("core.window_acquire (state kept outside the process)", function()
  it("applies the same window to a packed state string", function()
    local state, wait
    for i = 0, 2 do
      wait, state = core.window_acquire(state, 3, 10, i)
      assert.equal(0, wait)
    end
    local blocked_wait, unchanged = core.window_acquire(state, 3, 10, 3)
    assert.is_true(blocked_wait > 7 and blocked_wait <= 7.2)
    assert.equal(state, unchanged)
    wait = core.window_acquire(state, 3, 10, 10.2)
    assert.equal(0, wait)
  end)

  it("starts afresh on a missing, foreign or differently sized state", function()
    assert.equal(0, (core.window_acquire(nil, 2, 1, 0)))
    assert.equal(0, (core.window_acquire("garbage", 2, 1, 0)))
    local _, state = core.window_acquire(nil, 1, 1, 0)
    assert.is_true(core.window_acquire(state, 1, 1, 0.5) > 0)
    assert.equal(0, (core.window_acquire(state, 2, 1, 0.5)))
    assert.has_error(function() core.window_acquire(nil, 0, 1, 0) end)
  end)
end)

describe("session:blocked_until", function()
  it("reports and extends the 429 block, never shortening it", function()
    local s = session()
    assert.equal(0, s:blocked_until())
    s:decide("GET", 1, 429, nil, true, "30", 100)
    assert.equal(130, s:blocked_until())
    assert.equal(130, s:blocked_until(120))
    assert.equal(200, s:blocked_until(200))
    assert.equal("blocked", select(2, s:acquire(150)))
  end)
end)
