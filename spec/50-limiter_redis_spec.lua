-- paddle.limiter with the "redis://" store: hosts share one pacing window
-- (an atomic server-side script on Redis' clock) and the 429 block (a key
-- with an expiry). Every test runs against its own redis-server.
local core = require "paddle.core"
local limiter = require "paddle.limiter"
local redis_url = require "paddle.redis"
local mock = require "support.mock"
local fleet = require "support.fleet"
local checks = require "support.limiter_checks"
local redis = require "support.redis"
local scripts = require "support.scripts"
local socket = require "socket"

local function make(spec, rate_limit)
  local warnings = {}
  local l = limiter.new(spec, rate_limit, core.session { api_key = "pdl_sdbx_apikey_limiterspec" },
    { warn = function(m) warnings[#warnings + 1] = m end })
  return l, warnings
end

describe("paddle.redis URLs", function()
  it("parse host, port, credentials, database and key prefix", function()
    assert.same({ host = "10.0.0.5", port = 6380, db = 2, user = nil, password = "s3cr:t", key = "app1",
      url = "redis://10.0.0.5:6380/2" }, redis_url.parse_url("redis://:s3cr%3At@10.0.0.5:6380/2?key=app1"))
    assert.same({ host = "cache.internal", port = 6379, db = 0, url = "redis://cache.internal" },
      redis_url.parse_url("redis://cache.internal"))
    local cfg = redis_url.parse_url("redis://bob:pw@[::1]:7000")
    assert.equal("::1", cfg.host)
    assert.equal("bob", cfg.user)
  end)

  it("raise on malformed URLs without echoing the password", function()
    for _, bad in ipairs { "redis://", "redis://h:99999", "redis://:pw@h/x", "redis://h?db=1",
      "http://h:1", "redis://h:1?key=" } do
      local ok, err = pcall(redis_url.parse_url, bad)
      assert.is_false(ok, bad)
      assert.matches("bad redis URL", err)
    end
    local ok, err = pcall(limiter.new, "redis://:topsecret@h:1/x", nil, core.session { api_key = "k" })
    assert.is_false(ok)
    assert.matches("database must be a number", err, 1, true)
    assert.is_nil(err:find("topsecret", 1, true))
  end)
end)

describe("paddle.limiter redis store", function()
  local r
  setup(function() r = redis.start() end)
  teardown(function() if r then r:stop() end end)
  before_each(function() r:cli("FLUSHALL") end)

  it("shares one window between limiters, under the key prefix", function()
    local a = make(r.url .. "?key=shop", { requests = 3, per = 10 })
    local b = make(r.url .. "?key=shop", { requests = 3, per = 10 })
    local now = checks.shares_window(a, b)
    assert.equal("3", r:cli("LLEN", "shop:window"))
    -- Another prefix is another limit.
    local c = make(r.url .. "?key=other", { requests = 3, per = 10 })
    assert.equal(0, c:acquire(now))
    a:close(); b:close(); c:close()
  end)

  it("shares the 429 block as a key with an expiry, then resumes paced", function()
    local rl = { requests = 4, per = 2 }
    local a = make(r.url, rl)
    local b = make(r.url, rl)
    local wait = checks.shares_block(a, b, 0.5)
    local ttl = tonumber(r:cli("PTTL", "paddle:limiter:blocked_until"))
    assert.is_true(ttl > 300 and ttl <= 500, "PTTL " .. ttl)
    assert.is_true(wait > 0.3 and wait <= 0.5, "wait " .. wait)
    core.sleep(wait + 0.02)
    checks.resumes_paced(a, b)
  end)

  it("warns once when a sharer uses another rate_limit", function()
    local a, warned_a = make(r.url, { requests = 3, per = 1 })
    local b, warned_b = make(r.url, { requests = 3, per = 2 })
    local now = core.monotonic()
    assert.equal(0, a:acquire(now))
    assert.equal(0, b:acquire(now))
    assert.equal(0, a:acquire(now))
    b:acquire(now)
    assert.equal(1, #warned_a)
    assert.equal(1, #warned_b)
    assert.matches("holds a window for another rate_limit", warned_b[1])
    assert.equal("3/2", r:cli("GET", "paddle:limiter:limit"))
  end)

  it("sends the script with EVAL when Redis does not have it cached", function()
    local a = make(r.url, { requests = 5, per = 1 })
    assert.equal(0, a:acquire(core.monotonic()))
    r:cli("SCRIPT", "FLUSH")
    assert.equal(0, a:acquire(core.monotonic()))
    assert.equal("2", r:cli("LLEN", "paddle:limiter:window"))
  end)

  it("never over-admits under concurrent processes", function()
    -- 4 processes race for 10 slots in a 30 s window: exactly 10 admitted.
    local outputs = scripts.run([[
      local core = require "paddle.core"
      local l = require("paddle.limiter").new("]] .. r.url .. [[", { requests = 10, per = 30 },
        core.session { api_key = "k" })
      local n = 0
      for _ = 1, 10 do if l:acquire(core.monotonic()) == 0 then n = n + 1 end end
      print(n)
    ]], { copies = 4 })
    assert.equal(10, scripts.sum(outputs))
  end)

  it("authenticates and selects the database of the URL", function()
    local secured = redis.start { password = "pa ss" }
    local ok, err = pcall(function()
      local url = "redis://:pa%20ss@127.0.0.1:" .. secured.port .. "/3"
      local a, warnings = make(url, { requests = 2, per = 5 })
      assert.equal(0, a:acquire(core.monotonic()))
      assert.same({}, warnings)
      assert.equal("1", secured:cli("-n", "3", "LLEN", "paddle:limiter:window"))
      -- A wrong password is a store failure: the call goes, paced in-process.
      local b, bad = make("redis://:wrong@127.0.0.1:" .. secured.port, { requests = 2, per = 5 })
      assert.equal(0, b:acquire(core.monotonic()))
      assert.equal(1, #bad)
      assert.matches("redis AUTH", bad[1])
      assert.is_nil(bad[1]:find("wrong", 1, true))
    end)
    secured:stop()
    assert(ok, err)
  end)

  it("falls back to its own window while Redis is down, then uses it again", function()
    local l, warnings = make(r.url, { requests = 2, per = 1 })
    local now = core.monotonic()
    assert.equal(0, l:acquire(now))
    r:kill()
    assert.equal(0, l:acquire(now))
    assert.equal(0, l:acquire(now))
    local wait, why = l:acquire(now)
    assert.equal("pacing", why)
    assert.is_true(wait > 0.9)
    assert.equal(1, #warnings)
    assert.matches("store redis://127.0.0.1:%d+ failed", warnings[1])
    r:restart()
    assert.equal(0, l:acquire(now + 1.5))
    assert.equal(2, #warnings)
    assert.matches("is back", warnings[2])
    assert.equal("1", r:cli("LLEN", "paddle:limiter:window"))
  end)
end)

-- LuaJIT's FFI can fork: a child must not talk on its parent's connection.
describe("paddle.redis across fork", function()
  local r
  setup(function() r = redis.start() end)
  teardown(function() if r then r:stop() end end)

  it("a forked child connects its own, and the parent's connection stays up", function()
    local out = scripts.run([[
      local redis = require "paddle.redis"
      local conn = redis.connect(redis.parse_url(arg[1]))
      local me = conn:command("CLIENT", "ID")
      local pid = ffi.C.fork()
      if pid == 0 then
        local child = conn:command("CLIENT", "ID")
        print("child", child ~= me and child or "same connection")
        io.stdout:flush()
        ffi.C._exit(0)
      end
      ffi.C.waitpid(pid, nil, 0)
      print("parent", conn:command("CLIENT", "ID") == me and "kept" or "lost")
    ]], { fork = true, args = { r.url } })
    assert.matches("child%s+%d+", out)
    assert.matches("parent%s+kept", out)
  end)
end)

describe("paddle.limiter redis store across processes", function()
  local m, r
  setup(function()
    r = redis.start()
    m = mock.start { rate_limit = { requests = 20, per = 1, block = 60 } }
  end)
  teardown(function()
    if m then m:stop() end
    if r then r:stop() end
  end)
  before_each(function() m:reset(); r:cli("FLUSHALL") end)

  it("3 processes x 40 calls on a 20/1 s limit: no 429, within 120/20/0.85 s", function()
    local res = fleet.run { processes = 3, calls = 40, url = m.url, limiter = r.url, max_retries = 0 }
    assert.equal(120, res.ok, table.concat(res.outputs, "\n"))
    assert.equal(0, res.failed)
    assert.equal(0, res.status429)
    for _, req in ipairs(m:requests()) do assert.are_not.equal(429, req.status) end
    assert.is_true(res.took < 120 / 20 / 0.85, "took " .. res.took)
  end)

  it("Redis killed mid-run loses no call", function()
    -- Paced alone, three processes may exceed the limit: a short block then.
    m:config { rate_limit = { requests = 20, per = 1, block = 2 } }
    local res = fleet.run { processes = 3, calls = 40, url = m.url, limiter = r.url, max_retries = 5,
      during = function(start_at)
        socket.sleep(start_at - socket.gettime() + 1.5)
        r:kill()
        socket.sleep(2)
        r:restart()
      end }
    assert.equal(120, res.ok, table.concat(res.outputs, "\n"))
    assert.equal(0, res.failed)
    for i = 1, 3 do
      local _, failures = res.outputs[i]:gsub("store redis://[^\n]* failed", "")
      assert.equal(1, failures, "one warning per process:\n" .. res.outputs[i])
    end
  end)
end)
