-- The module-level API: paddle.customers & co. over a default client made
-- from PADDLE_* environment variables or paddle.configure{...}; paddle.new
-- with resources; paddle.webhooks loaded lazily.
local mock = require "support.mock"

local KEY = "pdl_sdbx_apikey_01hv8gq4zx7w2x3y4z5a6b7c8d_defaultspec"
local THIS_FILE = "42%-default_client_spec%.lua:%d+: "

-- A fresh copy of the paddle module (its own default client).
local function fresh_paddle()
  local saved = package.loaded.paddle
  package.loaded.paddle = nil
  local p = require "paddle"
  package.loaded.paddle = saved
  return p
end

local run = require("support.child").run

describe("module-level API", function()
  local m = mock.per_file { key = KEY, rate_limit = false }

  describe("default client from the environment", function()
    it("uses PADDLE_API_KEY and PADDLE_BASE_URL on first use", function()
      local out, status = run({ PADDLE_API_KEY = KEY, PADDLE_BASE_URL = m.url }, [[
        local paddle = require "paddle"
        local c = assert(paddle.customers.create { email = "env@example.com", name = "From env" })
        local n = 0
        for x, err in paddle.customers.list() do assert(x, tostring(err)); n = n + 1 end
        print(c.id, n, paddle.default_client().environment)
      ]])
      assert.equal(0, status, out)
      local id, n, environment = out:match("^(ctm_%w+)\t(%d+)\t(%a+)\n$")
      assert.is_string(id, out)
      assert.equal("1", n)
      assert.equal("sandbox", environment) -- from the pdl_sdbx_ key
      local c = require("paddle").new { api_key = KEY, base_url = m.url, rate_limit = false }
      assert.equal("From env", assert(c.customers.get(id)).name)
    end)

    it("reads the environment when first needed; without a key it raises at the caller's line", function()
      local out, status = run({}, [[
        local paddle = require "paddle"
        assert(paddle.versions()["lua-paddle"])
        local ok, err = pcall(function()
          local c = paddle.customers.get("ctm_01hv6y1jedq4p1n0yqn5ba3ky4")
          return c
        end)
        print(ok, err)
      ]])
      assert.equal(0, status, out)
      assert.matches("^false\t[^\n]*:4: paddle: no default client: set PADDLE_API_KEY", out)
    end)

    it("raises on a bad PADDLE_ENVIRONMENT, naming the environment variables", function()
      local out, status = run({ PADDLE_API_KEY = "some_key", PADDLE_ENVIRONMENT = "staging" }, [[
        local paddle = require "paddle"
        local ok, err = pcall(function()
          local iter = paddle.customers.list()
          return iter
        end)
        print(ok, err)
      ]])
      assert.equal(0, status, out)
      assert.matches("^false\t[^\n]*:3: paddle %(from PADDLE_%* environment variables%): "
        .. "option 'environment'", out)
    end)

    it("lets configure's api_key win over the environment", function()
      local env = { PADDLE_API_KEY = "pdl_sdbx_wrong", PADDLE_BASE_URL = "http://127.0.0.1:9" }
      local out, status = run(env, [[
        local paddle = require "paddle"
        paddle.configure { api_key = "]] .. KEY .. [[", base_url = "]] .. m.url .. [[", rate_limit = false }
        print(assert(paddle.customers.create { email = "configured@example.com" }).email)
      ]])
      assert.equal(0, status, out)
      assert.equal("configured@example.com\n", out)
    end)

    it("fills configure's missing key, environment and base_url from the environment", function()
      local out, status = run({ PADDLE_API_KEY = KEY, PADDLE_BASE_URL = m.url }, [[
        local paddle = require "paddle"
        paddle.configure { rate_limit = false, timeout = 5 }
        print(assert(paddle.customers.create { email = "filled@example.com" }).email)
      ]])
      assert.equal(0, status, out)
      assert.equal("filled@example.com\n", out)
    end)

    it("loads paddle.webhooks only when it is first used", function()
      local out, status = run({}, [[
        local paddle = require "paddle"
        print(package.loaded["paddle.webhooks"] == nil)
        local w = paddle.webhooks
        print(w ~= nil and w == require "paddle.webhooks")
      ]])
      assert.equal(0, status, out)
      assert.equal("true\ntrue\n", out)
    end)
  end)

  describe("paddle.configure", function()
    it("makes the default client used by paddle.customers, addresses, ...", function()
      local paddle = fresh_paddle()
      local c = paddle.configure { api_key = KEY, base_url = m.url, rate_limit = false }
      assert.equal(c, paddle.default_client())
      local cust = assert(paddle.customers.create { email = "module@example.com" })
      assert.same(cust, assert(paddle.customers.get(cust.id)))
      assert.equal("archived", assert(paddle.customers.archive(cust.id)).status)
      local found = assert(paddle.customers.find_by_email("module@example.com"))
      assert.equal(cust.id, found[1].id)
      local a = assert(paddle.addresses.create(cust.id, { country_code = "US" }))
      local n = 0
      for x in paddle.addresses.list(cust.id) do assert.equal(a.id, x.id); n = n + 1 end
      assert.equal(1, n)
      local p = assert(paddle.customers.page { status = "archived" })
      assert.equal(cust.id, p.data[1].id)
    end)

    it("replaces the default client when called again", function()
      local paddle = fresh_paddle()
      paddle.configure { api_key = KEY, base_url = m.url, rate_limit = false }
      local cust = assert(paddle.customers.create { email = "replace@example.com" })
      paddle.configure { api_key = "pdl_sdbx_apikey_wrong", base_url = m.url, rate_limit = false,
        max_retries = 0 }
      local got, err = paddle.customers.get(cust.id)
      assert.is_nil(got)
      assert.equal(403, err.status)
    end)

    it("raises at the caller's line on bad options and on misuse of module functions", function()
      local paddle = fresh_paddle()
      local ok, err = pcall(function() paddle.configure { api_key = KEY, timeout = -1 } end)
      assert.is_false(ok)
      assert.matches(THIS_FILE .. "paddle.configure: option 'timeout'", err)
      ok, err = pcall(function() paddle.configure("key") end)
      assert.is_false(ok)
      assert.matches(THIS_FILE .. "paddle.configure: expected a table", err)

      paddle.configure { api_key = KEY, base_url = m.url, rate_limit = false }
      ok, err = pcall(function() paddle.customers.get("nope") end)
      assert.is_false(ok)
      assert.matches(THIS_FILE .. "customers.get: customer_id must be a customer id", err)
      ok, err = pcall(function() paddle.customers:get("ctm_01hv6y1jedq4p1n0yqn5ba3ky4") end)
      assert.is_false(ok)
      assert.matches(THIS_FILE .. "paddle.customers.get: call it with a dot", err)
      ok, err = pcall(function() for _ in paddle.customers.list { bogus = 1 } do end end)
      assert.is_false(ok)
      assert.matches(THIS_FILE .. "customers.list: unknown parameter", err)
    end)
  end)

  describe("paddle.new", function()
    it("returns a client with every resource attached", function()
      local paddle = fresh_paddle()
      local c = paddle.new { api_key = KEY, base_url = m.url, rate_limit = false }
      local namespaces = { "customers", "addresses", "businesses", "payment_methods", "subscriptions",
        "events" }
      for _, ns in ipairs(namespaces) do
        assert.is_table(c[ns])
        assert.is_function(c[ns].list)
        assert.is_function(c[ns].page)
        assert.is_function(paddle[ns].list)
      end
      assert.is_function(c.customers.ensure)
      assert.is_function(paddle.customers.ensure)
    end)

    it("raises at the caller's line on a bad option", function()
      local paddle = fresh_paddle()
      local ok, err = pcall(function() paddle.new { api_key = KEY, max_retries = "3" } end)
      assert.is_false(ok)
      assert.matches(THIS_FILE .. "paddle.new: option 'max_retries'", err)
    end)
  end)
end)
