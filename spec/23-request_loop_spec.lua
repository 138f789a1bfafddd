-- The request loop alone: a fake transport and a fake clock drive every
-- retry rule, deadline and pacing decision without a server.
local core = require "paddle.core"
local loop = require "paddle.request_loop"

-- A clock that only moves when the loop sleeps or a fake send takes time.
local function fake_clock()
  local clock = { t = 1000, sleeps = {} }
  function clock.now() return clock.t end
  function clock.sleep(s)
    clock.sleeps[#clock.sleeps + 1] = s
    if clock.interrupt_on_sleep then return true end
    clock.t = clock.t + s
    return false
  end
  return clock
end

-- Answers from a script: each entry is { status, body, request_id, retry_after }
-- or { fail = code, sent = bool, takes = seconds }; `takes` advances the clock.
local function fake_transport(clock, script)
  local t = { name = "fake", calls = {} }
  function t.send(_, method, url, body, timeout, compressed)
    local step = script[#t.calls + 1] or script[#script]
    t.calls[#t.calls + 1] = { method = method, url = url, body = body, timeout = timeout, compressed = compressed }
    if step.takes then clock.t = clock.t + math.min(step.takes, timeout) end
    if step.fail then
      local code = step.fail
      if step.takes and step.takes > timeout then code = "timeout" end
      return nil, code, "fake " .. code, step.sent or false
    end
    return step[1], step[2] or "{}", step[3], step[4]
  end
  return t
end

local function context(script, overrides)
  local clock = fake_clock()
  local opts = overrides or {}
  local session = core.session {
    api_key = "pdl_sdbx_apikey_fake", max_retries = opts.max_retries or 3,
    max_retry_wait = opts.max_retry_wait or 60, backoff_base = 0.5,
    rate_requests = opts.rate_requests or 0, rate_per = opts.rate_per or 0,
  }
  local shared = {}
  local ctx = {
    session = session, transport = fake_transport(clock, script), now = clock.now, sleep = clock.sleep,
    limiter = opts.limiter or {
      acquire = function(_, now) return session:acquire(now) end,
      share_block = function(_, seconds) shared[#shared + 1] = seconds end,
    },
    timeout = opts.timeout or 60, attempt_timeout = opts.attempt_timeout or 30,
    max_retry_wait = opts.max_retry_wait or 60, on_request = opts.on_request,
  }
  return ctx, clock, shared
end

local function sum(list)
  local s = 0
  for _, v in ipairs(list) do s = s + v end
  return s
end

describe("request loop", function()
  it("returns the first answer that needs no retry, after one send and no sleep", function()
    local ctx, clock = context { { 200, '{"data":{}}', "req_1" } }
    local status, body, request_id, attempts = loop.run(ctx, "GET", "http://x/customers", nil, true)
    assert.equal(200, status)
    assert.equal('{"data":{}}', body)
    assert.equal("req_1", request_id)
    assert.equal(1, attempts)
    assert.same({}, clock.sleeps)
    assert.is_true(ctx.transport.calls[1].compressed)
  end)

  it("never retries a 4xx other than 429", function()
    for _, status in ipairs { 400, 401, 403, 404, 409, 422 } do
      local ctx = context { { status } }
      local got, _, _, attempts = loop.run(ctx, "GET", "http://x/c")
      assert.equal(status, got)
      assert.equal(1, attempts)
    end
  end)

  it("retries a GET after 5xx with jittered exponential backoff, up to max_retries", function()
    local ctx, clock = context({ { 503 }, { 502 }, { 500 }, { 500 } }, { max_retries = 3 })
    local status, _, _, attempts = loop.run(ctx, "GET", "http://x/c")
    assert.equal(500, status)
    assert.equal(4, attempts)
    assert.equal(3, #clock.sleeps)
    for i, s in ipairs(clock.sleeps) do assert.is_true(s >= 0 and s <= 0.5 * 2 ^ (i - 1)) end
  end)

  it("does not retry a POST after a 5xx: Paddle may have created the customer", function()
    local ctx = context { { 503 }, { 201 } }
    local status, _, _, attempts = loop.run(ctx, "POST", "http://x/customers", "{}")
    assert.equal(503, status)
    assert.equal(1, attempts)
  end)

  it("retries a POST whose bytes never left, never one that was sent", function()
    local ctx = context { { fail = "connect_error", sent = false }, { 201 } }
    local status, _, _, attempts = loop.run(ctx, "POST", "http://x/customers", "{}")
    assert.equal(201, status)
    assert.equal(2, attempts)

    ctx = context { { fail = "connection_reset", sent = true }, { 201 } }
    local ok, err = loop.run(ctx, "POST", "http://x/customers", "{}")
    assert.is_nil(ok)
    assert.equal("connection_reset", err.code)
    assert.equal("transport_error", err.type)
    assert.equal(1, err.attempts)
  end)

  it("waits Retry-After after a 429, shares the block, then retries", function()
    local ctx, clock, shared = context { { 429, "{}", "r1", "2" }, { 200 } }
    local status, _, _, attempts = loop.run(ctx, "GET", "http://x/c")
    assert.equal(200, status)
    assert.equal(2, attempts)
    assert.equal(2, sum(clock.sleeps))
    assert.equal(1, #shared)
    assert.near(2, shared[1], 1e-9)
  end)

  it("gives up on a 429 whose Retry-After exceeds max_retry_wait, returning the wait", function()
    local ctx, clock = context({ { 429, "{}", "r1", "120" } }, { max_retry_wait = 60 })
    local status, _, _, attempts, wait = loop.run(ctx, "GET", "http://x/c")
    assert.equal(429, status)
    assert.equal(1, attempts)
    assert.equal(120, wait)
    assert.same({}, clock.sleeps)
    -- The block holds: the next call does not even send.
    local ok, err = loop.run(ctx, "GET", "http://x/c")
    assert.is_nil(ok)
    assert.equal("too_many_requests", err.code)
    assert.equal(1, #ctx.transport.calls)
  end)

  it("never lets attempts and waits together pass the call's timeout", function()
    -- Every attempt hangs: each gets what is left of the budget, at most attempt_timeout.
    local ctx, clock = context({ { fail = "timeout", takes = 100 } }, { timeout = 2, attempt_timeout = 30 })
    local started = clock.t
    local ok, err = loop.run(ctx, "GET", "http://x/c")
    assert.is_nil(ok)
    assert.equal("timeout", err.code)
    assert.is_true(clock.t - started <= 2 + 1e-9, "took " .. (clock.t - started))
    for _, call in ipairs(ctx.transport.calls) do assert.is_true(call.timeout <= 2) end
  end)

  it("returns at once when a Retry-After wait would pass the deadline", function()
    local ctx, clock = context({ { 429, "{}", "r1", "30" } }, { timeout = 10 })
    local ok, err = loop.run(ctx, "GET", "http://x/c")
    assert.is_nil(ok)
    assert.equal("timeout", err.code)
    assert.equal(429, err.status)
    assert.equal(30, err.retry_after)
    assert.same({}, clock.sleeps)
  end)

  it("caps each attempt at attempt_timeout and at what is left", function()
    local ctx = context({ { fail = "timeout", takes = 100 }, { 200 } }, { timeout = 50, attempt_timeout = 20 })
    assert.equal(200, (loop.run(ctx, "GET", "http://x/c")))
    assert.equal(20, ctx.transport.calls[1].timeout)
    assert.is_true(ctx.transport.calls[2].timeout <= 30)
  end)

  it("paces: waits what the limiter asks before sending", function()
    local waits = { 0.5, 0 }
    local limiter = {
      acquire = function() return table.remove(waits, 1) or 0, "pacing" end,
      share_block = function() end,
    }
    local ctx, clock = context({ { 200 } }, { limiter = limiter })
    assert.equal(200, (loop.run(ctx, "GET", "http://x/c")))
    assert.same({ 0.5 }, clock.sleeps)
    assert.equal(1, #ctx.transport.calls)
  end)

  it("paces with the session's own window", function()
    local ctx, clock = context({ { 200 } }, { rate_requests = 2, rate_per = 1 })
    for _ = 1, 3 do assert.equal(200, (loop.run(ctx, "GET", "http://x/c"))) end
    assert.equal(1, #clock.sleeps)
    assert.is_true(clock.sleeps[1] >= 1)
  end)

  it("refuses to wait out a block longer than max_retry_wait", function()
    local limiter = { acquire = function() return 300, "blocked" end, share_block = function() end }
    local ctx = context({ { 200 } }, { limiter = limiter })
    local ok, err = loop.run(ctx, "GET", "http://x/c")
    assert.is_nil(ok)
    assert.equal("too_many_requests", err.code)
    assert.equal(0, #ctx.transport.calls)
  end)

  it("stops when a sleep is interrupted or the transport was", function()
    local ctx, clock = context { { 503 }, { 200 } }
    clock.interrupt_on_sleep = true
    local ok, err = loop.run(ctx, "GET", "http://x/c")
    assert.is_nil(ok)
    assert.equal("interrupted", err.code)

    ctx = context { { fail = "interrupted" }, { 200 } }
    ok, err = loop.run(ctx, "GET", "http://x/c")
    assert.is_nil(ok)
    assert.equal("interrupted", err.code)
    assert.equal(1, #ctx.transport.calls)
  end)

  it("reports every attempt to on_request", function()
    local seen = {}
    local ctx = context({ { 503, "{}", "r1" }, { 200, "{}", "r2" } }, {
      on_request = function(info) seen[#seen + 1] = info end,
    })
    loop.run(ctx, "GET", "http://x/c")
    assert.equal(2, #seen)
    assert.equal(503, seen[1].status)
    assert.equal("r1", seen[1].request_id)
    assert.is_number(seen[1].retry_in)
    assert.equal(200, seen[2].status)
    assert.is_nil(seen[2].retry_in)
    assert.equal("fake", seen[1].transport)
  end)

  it("makes a single attempt with max_retries = 0", function()
    local ctx = context({ { 503 }, { 200 } }, { max_retries = 0 })
    local status, _, _, attempts = loop.run(ctx, "GET", "http://x/c")
    assert.equal(503, status)
    assert.equal(1, attempts)
  end)
end)
