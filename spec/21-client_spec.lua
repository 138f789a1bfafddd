-- The client over libcurl against the local emulator: headers, keep-alive,
-- retries, Retry-After, pacing, timeouts, TLS, errors and the key's secrecy.
local paddle = require "paddle"
local core = require "paddle.core"
local mock = require "support.mock"

local KEY = "pdl_sdbx_apikey_01hv8gq4zx7w2x3y4z5a6b7c8d_clienttest"

local function elapsed_since(t0) return core.monotonic() - t0 end

describe("client over libcurl", function()
  local m = mock.per_file { key = KEY, rate_limit = false }

  local function client(opts)
    opts = opts or {}
    opts.api_key = opts.api_key or KEY
    opts.base_url = opts.base_url or m.url
    if opts.rate_limit == nil then opts.rate_limit = false end
    opts.backoff_base = opts.backoff_base or 0.01
    return paddle.new(opts)
  end

  -- GET /customers through client(opts) with these faults on it (each gets
  -- the method and path). Returns what the call returns, the seconds it took
  -- and the client.
  local function timed_get(faults, opts)
    for _, f in ipairs(faults) do f.method, f.path = "GET", "^/customers$" end
    m:faults(faults)
    local c = client(opts)
    local t0 = core.monotonic()
    local data, err = c.request("GET", "/customers")
    return data, err, elapsed_since(t0), c
  end

  local function create_customer(c, email)
    return c.request("POST", "/customers", { body = { email = email, name = "Test" } })
  end

  describe("requests", function()
    it("sends Paddle's headers, the key as a Bearer token and a JSON body", function()
      local c = client()
      local data = assert(create_customer(c, "headers@example.com"))
      assert.equal("headers@example.com", data.email)
      local log = m:requests()
      assert.equal(1, #log)
      local h = log[1].headers
      assert.equal("application/json", h["accept"])
      assert.equal("1", h["paddle-version"])
      assert.equal("application/json", h["content-type"])
      local version = paddle._VERSION:gsub("%.", "%%.")
      assert.matches("^lua%-paddle/" .. version .. " %(.+; libcurl %d+%.%d+", h["user-agent"])
      assert.matches("REDACTED", h["authorization"])
      assert.equal('{"email":"headers@example.com","name":"Test"}', log[1].body)
    end)

    it("adds the `headers` option to every request; a user-agent replaces ours", function()
      local c = client { headers = { ["X-Trace"] = "abc", ["user-agent"] = "my-app/1.0" } }
      assert(c.request("GET", "/customers"))
      local h = m:requests()[1].headers
      assert.equal("abc", h["x-trace"])
      assert.equal("my-app/1.0", h["user-agent"])
    end)

    it("is refused with the wrong key, and the error says so without the key", function()
      local c = client { api_key = "pdl_sdbx_apikey_wrongwrongwrong" }
      local data, err = c.request("GET", "/customers")
      assert.is_nil(data)
      assert.equal(403, err.status)
      assert.equal("request_error", err.type)
      assert.not_matches("wrongwrong", tostring(err))
    end)

    it("keeps one connection alive across many calls", function()
      local c = client()
      for _ = 1, 10 do assert(c.request("GET", "/customers")) end
      local log = m:requests()
      assert.equal(10, #log)
      for i = 2, 10 do assert.equal(log[1].connection, log[i].connection) end
    end)

    it("percent-encodes query values and comma-joins arrays", function()
      local c = client()
      assert(c.request("GET", "/customers", { query = {
        search = "a b&c", status = { "active", "archived" }, per_page = 5 } }))
      assert.equal("per_page=5&search=a%20b%26c&status=active,archived", m:requests()[1].query)
    end)

    it("returns data and meta, following an absolute next URL on its own origin", function()
      local c = client()
      for i = 1, 3 do assert(create_customer(c, "page" .. i .. "@example.com")) end
      local data, meta = assert(c.request("GET", "/customers", { query = { per_page = 2 } }))
      assert.equal(2, #data)
      assert.is_true(meta.pagination.has_more)
      local rest = assert(c.request("GET", meta.pagination.next))
      assert.equal(1, #rest)
    end)

    it("refuses to send the key to another origin", function()
      local c = client()
      assert.has_error(function() c.request("GET", "https://evil.example.com/customers") end,
        "request: URL https://evil.example.com/customers is not on " .. m.url)
    end)

    it("is unusable after close(), which is idempotent", function()
      local c = client()
      assert(c.request("GET", "/customers"))
      c.close()
      c.close()
      assert.has_error(function() c.request("GET", "/customers") end)
      assert.equal(1, #m:requests())
    end)

    it("raises on misuse at the caller's line", function()
      local c = client()
      local ok, err = pcall(c.request, "FETCH", "/customers")
      assert.is_false(ok)
      assert.matches("method must be", err)
      assert.has_error(function() c.request("GET", "customers") end, "request: path must start with '/'")
      assert.has_error(function() c.request("GET", "/a b") end)
      assert.has_error(function() c.request("GET", "/c", { query = { f = function() end } }) end)
      assert.has_error(function() c.request("POST", "/c", { body = { 0 / 0 } }) end)
    end)
  end)

  describe("errors", function()
    it("are values with Paddle's fields and a one-line tostring", function()
      local c = client()
      local data, err = c.request("GET", "/customers/ctm_01aaaaaaaaaaaaaaaaaaaaaaaa")
      assert.is_nil(data)
      assert.equal(404, err.status)
      assert.equal("not_found", err.code)
      assert.equal("request_error", err.type)
      assert.is_string(err.request_id)
      assert.is_string(err.documentation_url)
      assert.equal(1, err.attempts)
      assert.equal("paddle: 404 not_found: " .. err.detail .. " [request_id " .. err.request_id .. "]",
        tostring(err))
    end)

    it("carry field errors of a 400", function()
      local c = client()
      local _, err = c.request("POST", "/customers", { body = { email = "not-an-email" } })
      assert.equal(400, err.status)
      assert.equal("invalid_field", err.code)
      assert.equal("email", err.errors[1].field)
      assert.is_string(err.errors[1].message)
    end)

    it("report a non-JSON error body as invalid_response with a snippet", function()
      m:faults { { method = "GET", path = "^/customers$", action = "garbage", times = 10 } }
      local c = client { max_retries = 1 }
      local _, err = c.request("GET", "/customers")
      assert.equal("invalid_response", err.code)
      assert.equal("decode_error", err.type)
      assert.equal(502, err.status)
      assert.equal(2, err.attempts) -- a 502 is retried once, then reported
      assert.matches("non%-JSON body: .*<", err.detail)
    end)
  end)

  describe("retries", function()
    it("retries a GET on 500, 502, 503, 504 and 52x, then succeeds", function()
      local c = client()
      for _, status in ipairs { 500, 502, 503, 504, 520, 524 } do
        m:reset()
        m:faults { { method = "GET", path = "^/customers$", status = status, times = 2 } }
        assert(c.request("GET", "/customers"))
        assert.equal(3, #m:requests(), "status " .. status)
      end
    end)

    it("gives up after max_retries with the last error and the attempt count", function()
      m:faults { { method = "GET", path = "^/customers$", status = 503, times = 10 } }
      local c = client { max_retries = 2 }
      local _, err = c.request("GET", "/customers")
      assert.equal(503, err.status)
      assert.equal(3, err.attempts)
      assert.equal(3, #m:requests())
    end)

    it("retries PATCH and DELETE on 5xx and transport failures", function()
      local c = client()
      local ctm = assert(create_customer(c, "patch@example.com"))
      m:faults {
        { method = "PATCH", path = "^/customers/", status = 502, times = 1 },
        { method = "PATCH", path = "^/customers/", action = "reset", times = 1 },
      }
      local updated = assert(c.request("PATCH", "/customers/" .. ctm.id, { body = { name = "New" } }))
      assert.equal("New", updated.name)
      local patches = 0
      for _, r in ipairs(m:requests()) do if r.method == "PATCH" then patches = patches + 1 end end
      assert.equal(3, patches)
    end)

    it("does not retry a POST after a 5xx or a reset: no duplicate customer", function()
      local c = client()
      m:faults { { method = "POST", path = "^/customers$", status = 500, times = 1 } }
      local _, err = create_customer(c, "post500@example.com")
      assert.equal(500, err.status)
      assert.equal(1, #m:requests())
      m:reset()
      m:faults { { method = "POST", path = "^/customers$", action = "reset", times = 1 } }
      local _, err2 = create_customer(c, "postreset@example.com")
      assert.equal("transport_error", err2.type)
      assert.equal("connection_reset", err2.code)
      assert.equal(1, err2.attempts)
      assert.equal(1, #m:requests())
    end)

    it("retries a POST on 429 and when the connection could not be made", function()
      local c = client()
      m:faults { { method = "POST", path = "^/customers$", status = 429, times = 1,
        headers = { ["Retry-After"] = "0" } } }
      assert(create_customer(c, "post429@example.com"))
      assert.equal(2, #m:requests())
      -- Nothing listens on this port: the request was never sent, so it is retried.
      local attempts = 0
      local dead = client { base_url = "http://127.0.0.1:9", max_retries = 2,
        on_request = function(info) attempts = info.attempt end }
      local _, err = dead.request("POST", "/customers", { body = { email = "x@example.com" } })
      assert.equal("connect_error", err.code)
      assert.equal(3, attempts)
      assert.equal(3, err.attempts)
    end)

    it("retries a GET after a truncated body", function()
      m:faults { { method = "GET", path = "^/customers$", action = "truncate", times = 1 } }
      local c = client()
      assert(c.request("GET", "/customers"))
      assert.equal(2, #m:requests())
    end)

    it("honours Retry-After in seconds", function()
      local data, err, took = timed_get { { status = 429, times = 1, headers = { ["Retry-After"] = "1" } } }
      assert(data, err)
      assert.is_true(took >= 1 and took < 1.8, "took " .. took)
    end)

    it("honours Retry-After as an HTTP date", function()
      local when = os.date("!%a, %d %b %Y %H:%M:%S GMT", os.time() + 2)
      local data, err, took = timed_get { { status = 503, times = 1, headers = { ["Retry-After"] = when } } }
      assert(data, err)
      -- An HTTP date has whole seconds: the wait is between 1 and 2 s.
      assert.is_true(took >= 0.9 and took < 2.8, "took " .. took)
    end)

    it("returns the 429 at once when Retry-After exceeds max_retry_wait, then fails fast", function()
      local t0 = core.monotonic()
      local _, err, _, c = timed_get({ { status = 429, times = 1, headers = { ["Retry-After"] = "60" } } },
        { max_retry_wait = 5 })
      assert.equal(429, err.status)
      assert.equal("too_many_requests", err.code)
      assert.equal(60, err.retry_after)
      -- The block Paddle announced applies to the whole client: no request is sent.
      local _, err2 = c.request("GET", "/customers")
      assert.equal(429, err2.status)
      assert.is_true(err2.retry_after > 58)
      assert.is_true(elapsed_since(t0) < 1)
      assert.equal(1, #m:requests())
    end)

    it("reports each attempt to on_request", function()
      m:faults { { method = "GET", path = "^/customers$", status = 502, times = 1 } }
      local seen = {}
      local c = client { on_request = function(info) seen[#seen + 1] = info end }
      assert(c.request("GET", "/customers"))
      assert.equal(2, #seen)
      assert.same({ 1, 502, "GET", "curl" },
        { seen[1].attempt, seen[1].status, seen[1].method, seen[1].transport })
      assert.is_number(seen[1].retry_in)
      assert.same({ 2, 200 }, { seen[2].attempt, seen[2].status })
      assert.is_string(seen[2].request_id)
      assert.is_number(seen[2].duration)
    end)
  end)

  describe("timeouts", function()
    it("stops waiting at `timeout` and reports a timeout", function()
      local _, err, took = timed_get({ { delay_ms = 3000, times = 1 } }, { timeout = 0.5, max_retries = 0 })
      assert.equal("timeout", err.code)
      assert.equal("transport_error", err.type)
      assert.is_true(took < 1.5)
    end)
  end)

  describe("the whole call's timeout", function()
    it("bounds attempts, backoff and waits together: a 5 s hang with timeout = 2 returns in < 2.5 s", function()
      local _, err, took = timed_get({ { delay_ms = 5000, times = -1 } },
        { timeout = 2, max_retries = 5, backoff_base = 0.2 })
      assert.equal("timeout", err.code)
      assert.is_true(took < 2.5, "took " .. took)
      assert.is_true(took > 1.5, "gave up early: " .. took)
    end)

    it("does not start a Retry-After wait that would pass the deadline", function()
      local _, err, took = timed_get({ { status = 503, times = 1, headers = { ["Retry-After"] = "30" } } },
        { timeout = 3 })
      assert.equal("timeout", err.code)
      assert.equal(503, err.status)
      assert.is_true(took < 1)
    end)
  end)

  describe("the API key", function()
    it("never appears in tostring, errors, on_request or anything reachable from the client", function()
      local secret = "pdl_sdbx_apikey_01verysecretvalue"
      local infos = {}
      local c = client { api_key = secret, on_request = function(info) infos[#infos + 1] = info end }
      local _, err = c.request("GET", "/customers/ctm_01aaaaaaaaaaaaaaaaaaaaaaaa")
      assert.not_matches("verysecret", tostring(c))
      assert.not_matches("verysecret", tostring(err))
      -- Walk everything a serializer could reach: tables, keys, values, metatables.
      local seen = {}
      local function walk(v)
        if type(v) == "string" then
          assert.is_nil(v:find("verysecret", 1, true), "key found in a reachable string")
        elseif type(v) == "table" and not seen[v] then
          seen[v] = true
          for k, x in pairs(v) do walk(k); walk(x) end
          walk(getmetatable(v))
        elseif type(v) == "function" and not seen[v] then
          seen[v] = true
          -- even the closures' upvalues hold no copy of the key
          for i = 1, 255 do
            local name, up = debug.getupvalue(v, i)
            if not name then break end
            walk(up)
          end
        end
      end
      walk(c)
      walk(err)
      walk(infos)
    end)
  end)

  describe("environments", function()
    it("infers the environment from the key prefix", function()
      local s = paddle.new { api_key = "pdl_sdbx_apikey_abc" }
      assert.equal("sandbox", s.environment)
      assert.equal("https://sandbox-api.paddle.com", s.base_url)
      local p = paddle.new { api_key = "pdl_live_apikey_abc" }
      assert.equal("production", p.environment)
      assert.equal("https://api.paddle.com", p.base_url)
      local old = paddle.new { api_key = "0123456789abcdef" }
      assert.equal("production", old.environment)
      local explicit = paddle.new { api_key = "0123456789abcdef", environment = "sandbox" }
      assert.equal("https://sandbox-api.paddle.com", explicit.base_url)
    end)

    it("refuses an environment that contradicts the key", function()
      local ok, err = pcall(paddle.new, { api_key = "pdl_sdbx_apikey_abc", environment = "production" })
      assert.is_false(ok)
      assert.matches('environment "production" contradicts the API key, which is a sandbox key', err)
      assert.not_matches("apikey_abc", err)
      assert.has_error(function() paddle.new { api_key = "pdl_live_apikey_abc", environment = "sandbox" } end)
      assert.has_error(function() paddle.new { api_key = "k", environment = "staging" } end)
    end)

    it("lets base_url override both", function()
      local c = paddle.new { api_key = "pdl_live_apikey_abc", base_url = "http://127.0.0.1:1/" }
      assert.equal("http://127.0.0.1:1", c.base_url)
      assert.equal("production", c.environment)
    end)

    it("raises on bad options at the caller's line", function()
      local ok, err = pcall(paddle.new, { api_key = "k", timeout = "10" })
      assert.is_false(ok)
      assert.matches("option 'timeout' must be a number", err)
      assert.has_error(function() paddle.new { api_key = "k", rate_limit = { requests = 0, per = 1 } } end)
      assert.has_error(function() paddle.new { api_key = "k", headers = { Authorization = "x" } } end)
      assert.has_error(function() paddle.new { api_key = "k", base_url = "ftp://x" } end)
      assert.has_error(function() paddle.new {} end)
      assert.has_error(function() paddle.new "k" end)
    end)
  end)
end)

describe("client pacing against the emulator's rate limit", function()
  it("sends 150 requests under a 50/1 s limit with no 429, at >= 90% of the allowed rate", function()
    local m = mock.start { key = KEY, rate_limit = "50/1" }
    finally(function() m:stop() end)
    local c = paddle.new { api_key = KEY, base_url = m.url, rate_limit = { requests = 50, per = 1 },
      max_retries = 0 }
    local t0 = core.monotonic()
    for i = 1, 150 do
      local data, err = c.request("GET", "/customers", { query = { per_page = 1 } })
      assert(data, "request " .. i .. ": " .. tostring(err))
    end
    local took = elapsed_since(t0)
    -- 50 go at once, the next 50 a window later, the last 50 a window after:
    -- just over 2 s. At 90% of 50/s, 150 requests may take at most 3.33 s.
    assert.is_true(took >= 2, "pacing did not wait: " .. took)
    assert.is_true(took <= 150 / 45, "too slow: " .. took)
    for _, r in ipairs(m:requests()) do assert.not_equal(429, r.status) end
  end)
end)

describe("client over TLS", function()
  local m
  lazy_setup(function() m = mock.start { key = KEY, rate_limit = false, tls = true } end)
  lazy_teardown(function() if m then m:stop() end end)

  it("verifies the server with ca_file", function()
    local c = paddle.new { api_key = KEY, base_url = m.url, ca_file = m.ca_file, rate_limit = false }
    assert.matches("^https://", m.url)
    assert(c.request("GET", "/customers"))
  end)

  it("takes the CA from CURL_CA_BUNDLE or SSL_CERT_FILE when ca_file is not given", function()
    local child = require "support.child"
    local script = ([[
      local c = require("paddle").new { api_key = %q, base_url = %q, rate_limit = false, max_retries = 0 }
      local data, err = c.request("GET", "/customers")
      io.write(data and "ok" or tostring(err.code))
    ]]):format(KEY, m.url)
    assert.equal("ok", (child.run({ CURL_CA_BUNDLE = m.ca_file }, script)))
    assert.equal("ok", (child.run({ SSL_CERT_FILE = m.ca_file }, script)))
    assert.equal("tls_error", (child.run({}, script)))
  end)

  it("fails without the CA: verification is on by default", function()
    local c = paddle.new { api_key = KEY, base_url = m.url, rate_limit = false, max_retries = 0,
      ca_file = "/etc/ssl/certs/ca-certificates.crt" }
    local _, err = c.request("GET", "/customers")
    assert.equal("transport_error", err.type)
    assert.equal("tls_error", err.code)
  end)
end)
