-- webhooks.deduper{ redis = "redis://..." }: receivers behind a load balancer
-- share which events they have processed. claim is SET key 1 NX EX ttl,
-- release is DEL; the same semantics and errors as the other dedupers.
local webhooks = require "paddle.webhooks"
local redis = require "support.redis"
local scripts = require "support.scripts"
local mock = require "support.mock"

describe("paddle.webhooks.deduper on Redis", function()
  local r
  setup(function() r = redis.start() end)
  teardown(function() if r then r:stop() end end)
  before_each(function() r:cli("FLUSHALL") end)

  it("lets exactly one of two instances claim an event", function()
    local a = webhooks.deduper { redis = r.url, ttl = 60 }
    local b = webhooks.deduper { redis = r.url, ttl = 60 }
    assert.is_true(a:claim("evt_01"))
    assert.is_false(b:claim("evt_01"))
    assert.is_false(a:claim("evt_01"))
    assert.is_true(b:claim("evt_02"))
    assert.equal("1", r:cli("GET", "paddle:webhook:evt_01"))
    local ttl = tonumber(r:cli("TTL", "paddle:webhook:evt_01"))
    assert.is_true(ttl > 55 and ttl <= 60)
    a:close(); b:close()
  end)

  it("release lets a retry of a failed event be claimed again", function()
    local a = webhooks.deduper { redis = r.url }
    local b = webhooks.deduper { redis = r.url }
    assert.is_true(a:claim("evt_03"))
    assert.is_true(a:release("evt_03"))
    assert.is_true(b:claim("evt_03"))
    assert.is_true(a:release("evt_never_claimed"))
    local ttl = tonumber(r:cli("TTL", "paddle:webhook:evt_03"))
    assert.is_true(ttl > 3 * 86400 - 10, "default ttl is 3 days")
  end)

  it("forgets claims after ttl (rounded up to whole seconds)", function()
    local a = webhooks.deduper { redis = r.url, ttl = 0.5 }
    assert.is_true(a:claim("evt_04"))
    assert.equal("1", r:cli("TTL", "paddle:webhook:evt_04"))
    os.execute("sleep 1.1")
    assert.is_true(a:claim("evt_04"))
  end)

  it("uses the prefix option, else the URL's key", function()
    local a = webhooks.deduper { redis = r.url .. "?key=shop1:", prefix = "shop2:" }
    local b = webhooks.deduper { redis = r.url .. "?key=shop1:" }
    assert.is_true(a:claim("evt_05"))
    assert.is_true(b:claim("evt_05"))
    assert.equal("1", r:cli("EXISTS", "shop2:evt_05"))
    assert.equal("1", r:cli("EXISTS", "shop1:evt_05"))
  end)

  it("lets exactly one of many processes claim an event", function()
    local outputs = scripts.run([[
      local seen = require("paddle.webhooks").deduper { redis = "]] .. r.url .. [[" }
      local won = 0
      for i = 1, 50 do if seen:claim("evt_race_" .. i) then won = won + 1 end end
      print(won)
    ]], { copies = 4 })
    assert.equal(50, scripts.sum(outputs))
  end)

  it("returns dedupe_failed when Redis is unreachable, and recovers", function()
    local a = webhooks.deduper { redis = r.url }
    assert.is_true(a:claim("evt_06"))
    r:kill()
    local ok, err = a:claim("evt_07")
    assert.is_nil(ok)
    assert.equal("webhook_error", err.type)
    assert.equal("dedupe_failed", err.code)
    assert.matches("redis SET failed", err.detail)
    ok, err = a:release("evt_06")
    assert.is_nil(ok)
    assert.equal("dedupe_failed", err.code)
    r:restart()
    assert.is_true(a:claim("evt_07"))
  end)

  it("raises on misuse", function()
    local ok, err = pcall(webhooks.deduper, { redis = "redis://:pw@host:x" })
    assert.is_false(ok)
    assert.matches("deduper redis: bad redis URL", err)
    assert.is_nil(err:find("pw", 1, true))
    ok, err = pcall(webhooks.deduper, { redis = r.url, shared_dict = "d" })
    assert.is_false(ok)
    assert.matches("shared_dict or redis, not both", err)
    local seen = webhooks.deduper { redis = r.url }
    assert.has_error(function() seen:claim("") end)
    assert.has_error(function() seen:release(42) end)
  end)
end)

-- A port nothing listens on: the deduper reports it, it does not raise.
describe("paddle.webhooks.deduper on a Redis that never was", function()
  it("fails each claim with dedupe_failed", function()
    local seen = webhooks.deduper { redis = "redis://127.0.0.1:" .. mock.free_port() }
    local ok, err = seen:claim("evt_1")
    assert.is_nil(ok)
    assert.equal("dedupe_failed", err.code)
    assert.matches("connect", err.detail)
  end)
end)
