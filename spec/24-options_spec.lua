-- Options are checked once, in paddle.new / paddle.configure: unknown names,
-- types, bounds and the environment; closed clients; error values.
local paddle = require "paddle"
local errors = require "paddle.errors"
local options = require "paddle.options"
local run = require("support.child").run
local mock = require "support.mock"

local KEY = "pdl_sdbx_apikey_01hv8gq4zx7w2x3y4z5a6b7c8d_optionspec"
local THIS_FILE = "24%-options_spec%.lua:%d+: "

local function new_raises(pattern, opts)
  opts.api_key = opts.api_key or KEY
  local ok, msg = pcall(paddle.new, opts)
  assert.is_false(ok, "paddle.new accepted it")
  -- pcall calls paddle.new directly: the message is positioned at pcall's
  -- caller level, so check it names the option instead.
  assert.matches(pattern, msg, 1, true)
  return msg
end

describe("options", function()
  it("raise at the caller's line for a misspelt name, naming the closest known one", function()
    local ok, msg = pcall(function() local c = paddle.new { api_key = KEY, timout = 5 }; return c end)
    assert.is_false(ok)
    assert.matches(THIS_FILE .. "paddle.new: unknown option 'timout' %(did you mean 'timeout'%?%)", msg)
    ok, msg = pcall(function() local c = paddle.new { api_key = KEY, baseurl = "http://127.0.0.1:1" }; return c end)
    assert.is_false(ok)
    assert.matches(THIS_FILE .. "paddle.new: unknown option 'baseurl' %(did you mean 'base_url'%?%)", msg)
    ok, msg = pcall(function() local c = paddle.configure { api_key = KEY, max_retry = 1 }; return c end)
    assert.is_false(ok)
    assert.matches(THIS_FILE .. "paddle.configure: unknown option 'max_retry'", msg)
  end)

  it("are checked against the bounds C enforces, with the type that came", function()
    new_raises("option 'timeout' must be a number from 0.001 to 86400, got 100000", { timeout = 1e5 })
    new_raises("option 'timeout' must be a number from 0.001 to 86400, got 0", { timeout = 0 })
    new_raises("option 'timeout' must be a number", { timeout = 0 / 0 })
    new_raises("option 'max_retries' must be an integer from 0 to 100, got 2147483648", { max_retries = 2 ^ 31 })
    new_raises("option 'max_retries' must be an integer from 0 to 100, got 2.5", { max_retries = 2.5 })
    new_raises('option \'max_retries\' must be an integer from 0 to 100, got "3" (a string)', { max_retries = "3" })
    new_raises("option 'rate_limit.requests' must be an integer from 1 to 100000", { rate_limit = { requests = 0, per = 1 } })
    new_raises("option 'rate_limit.per' must be a number of seconds", { rate_limit = { requests = 1, per = -1 } })
    new_raises("option 'rate_limit' must be a table with only 'requests' and 'per'",
      { rate_limit = { requests = 1, per = 1, burst = 2 } })
    new_raises("option 'connect_timeout' must be <= timeout", { timeout = 5, connect_timeout = 10 })
    new_raises("option 'attempt_timeout' must be <= timeout", { timeout = 5, attempt_timeout = 10 })
    new_raises("option 'backoff_base' must be a number from 0 to 60", { backoff_base = 1e9 })
    new_raises("option 'environment' must be \"sandbox\" or \"production\"", { environment = "staging" })
    new_raises("option 'on_request' must be a function", { on_request = "print" })
    new_raises("option 'keep_null' must be a boolean", { keep_null = 1 })
  end)

  it("refuse strings that would reach a header or a URL with control characters or credentials", function()
    new_raises("option 'proxy' must be a non-empty string without control characters",
      { proxy = "http://proxy:3128\r\nX-Evil: 1" })
    new_raises("option 'headers' must be a table whose names are HTTP header names", { headers = { [""] = "x" } })
    new_raises("option 'headers.X-A' must be a string without control characters", { headers = { ["X-A"] = "a\nb" } })
    new_raises("option 'headers' must be free of Authorization", { headers = { Authorization = "Bearer x" } })
    new_raises("must be a URL without credentials", { base_url = "https://user:secret@example.com" })
    new_raises("option 'base_url' must be an http(s) URL", { base_url = "ftp://example.com" })
    new_raises("option 'api_key' contains whitespace", { api_key = "pdl_sdbx_apikey_a b" })
    local msg = new_raises("option 'limiter' must be", { limiter = "redis:/:s3cret@host:6379" })
    assert.not_matches("s3cret", msg)
  end)

  it("contradictions between the key and environment raise", function()
    new_raises('environment "production" contradicts the API key', { environment = "production" })
  end)

  it("are all listed once, each with a doc line", function()
    local seen = {}
    for _, o in ipairs(options.LIST) do
      assert.is_nil(seen[o.name], o.name)
      seen[o.name] = true
      assert.is_string(o.doc, o.name)
    end
  end)

  it("have defaults a caller can see: timeout 60 s for the whole call", function()
    local c = paddle.new { api_key = KEY, base_url = "http://127.0.0.1:9" }
    assert.equal(60, c._options.timeout)
    assert.equal(30, c._options.attempt_timeout)
    assert.same({ requests = 240, per = 60 }, c._options.rate_limit)
    c:close()
  end)

  it("paddle.new reads PADDLE_BASE_URL and PADDLE_ENVIRONMENT when the option is absent", function()
    local m = mock.start { key = KEY, rate_limit = false }
    local ok, err = pcall(function()
      local out, status = run({ PADDLE_BASE_URL = m.url }, [[
        local paddle = require "paddle"
        local c = paddle.new { api_key = "]] .. KEY .. [[" }
        assert(c.customers.create { email = "envnew@example.com" })
        print(c.base_url, c.environment)
      ]])
      assert.equal(0, status, out)
      assert.equal(m.url .. "\tsandbox\n", out)
      out, status = run({ PADDLE_ENVIRONMENT = "production", PADDLE_API_KEY = "oldstylekey" }, [[
        local c = require("paddle").new {}
        print(c.base_url, c.environment)
      ]])
      assert.equal(0, status, out)
      assert.equal("https://api.paddle.com\tproduction\n", out)
    end)
    m:stop()
    assert(ok, err)
  end)
end)

describe("a closed client", function()
  it("raises 'client is closed' at the caller's line, whatever is called", function()
    local c = paddle.new { api_key = KEY, base_url = "http://127.0.0.1:9" }
    c:close()
    c.close() -- idempotent, both call styles
    assert.matches("closed", tostring(c))
    local calls = {
      function() local r = c.request("GET", "/customers"); return r end,
      function() local r = c:request("GET", "/customers"); return r end,
      function() local r = c.customers.get("ctm_01hv6y1jedq4p1n0yqn5ba3ky4"); return r end,
      function() local r = c.customers.list(); return r end,
      function() local r = c.customers.ensure { email = "x@example.com" }; return r end,
      function() local r = c.customers.find_by_email("x@example.com"); return r end,
    }
    for _, f in ipairs(calls) do
      local ok, msg = pcall(f)
      assert.is_false(ok)
      assert.matches(THIS_FILE .. "paddle: client is closed", msg)
    end
  end)
end)

describe("error values", function()
  local err = errors.new {
    type = "request_error", code = "bad_request", status = 400, detail = "Invalid request.",
    request_id = "req_123",
    errors = { { field = "email", message = "must be a valid email" }, { field = "name", message = "too long" } },
  }

  it("tostring carries the field errors and the request id", function()
    assert.equal("paddle: 400 bad_request: Invalid request. (email: must be a valid email; name: too long)"
      .. " [request_id req_123]", tostring(err))
  end)

  it("concatenate on both sides", function()
    assert.equal("failed: " .. tostring(err), "failed: " .. err)
    assert.equal(tostring(err) .. "!", err .. "!")
    assert.is_true(errors.is_error(err))
  end)
end)
