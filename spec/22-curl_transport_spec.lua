-- paddle.curl's handle and paddle.transport.curl against the emulator: the
-- kept header list, one exchange per perform, its results and failure
-- codes, what C refuses before any cast or libcurl call. Also run under
-- valgrind and ASan (spec/run-valgrind, spec/run-asan): keep it fast.
local core = require "paddle.core"
local curl = require "paddle.curl"
local transport = require "paddle.transport.curl"
local mock = require "support.mock"

local KEY = "pdl_sdbx_apikey_01hv8gq4zx7w2x3y4z5a6b7c8d_transport"

describe("paddle.curl handle", function()
  local m, s, h

  lazy_setup(function() m = mock.start { key = KEY } end)
  lazy_teardown(function() if m then m:stop() end end)
  before_each(function()
    m:reset()
    s = core.session { api_key = KEY }
    h = curl.new { timeout = 5 }
    h:set_headers { "Accept: application/json", "Paddle-Version: 1" }
  end)
  after_each(function()
    h:close()
    s:close()
  end)

  describe("perform", function()
    it("sends the set lines and the session's Authorization, returns status, body, request id", function()
      local status, body, request_id, retry_after = h:perform(s, "GET", m.url .. "/customers", nil, 5, false)
      assert.equal(200, status)
      assert.matches('"data"', body)
      assert.matches("^%S+$", request_id)
      assert.is_nil(retry_after)
      local sent = m:requests()[1].headers
      assert.equal("application/json", sent["accept"])
      assert.equal("1", sent["paddle-version"])
      assert.equal("Bearer [REDACTED]", sent["authorization"])
      assert.is_nil(sent["expect"])
    end)

    it("keeps the list until set_headers replaces it", function()
      assert.equal(200, (h:perform(s, "GET", m.url .. "/customers", nil, 5, false)))
      h:set_headers { "X-Trace: two" }
      assert.equal(200, (h:perform(s, "GET", m.url .. "/customers", nil, 5, false)))
      assert.equal(200, (h:perform(s, "GET", m.url .. "/customers", nil, 5, false)))
      local log = m:requests()
      assert.equal("application/json", log[1].headers["accept"])
      assert.is_nil(log[1].headers["x-trace"])
      for i = 2, 3 do
        assert.equal("two", log[i].headers["x-trace"])
        assert.equal("Bearer [REDACTED]", log[i].headers["authorization"])
      end
    end)

    it("uses whichever session it is given", function()
      local wrong = core.session { api_key = "pdl_sdbx_apikey_wrong" }
      assert.equal(403, (h:perform(wrong, "GET", m.url .. "/customers", nil, 5, false)))
      assert.equal(200, (h:perform(s, "GET", m.url .. "/customers", nil, 5, false)))
      wrong:close()
    end)

    it("asks for gzip only when compressed is true", function()
      h:perform(s, "GET", m.url .. "/customers", nil, 5, true)
      h:perform(s, "GET", m.url .. "/customers", nil, 5, false)
      local log = m:requests()
      assert.equal("gzip", log[1].headers["accept-encoding"])
      assert.is_nil(log[2].headers["accept-encoding"])
    end)

    it("sends bodies with their method; a POST goes on a fresh connection", function()
      h:set_headers { "Content-Type: application/json" }
      local status, body = h:perform(s, "POST", m.url .. "/customers", '{"email":"t@example.com"}', 5, false)
      assert.equal(201, status)
      local id = body:match('"id":"(ctm_[a-z0-9]+)"')
      assert.equal(200, (h:perform(s, "PATCH", m.url .. "/customers/" .. id, '{"name":"N"}', 5, false)))
      assert.equal(201, (h:perform(s, "POST", m.url .. "/customers", '{"email":"u@example.com"}', 5, false)))
      local log = m:requests()
      assert.equal("PATCH", log[2].method)
      assert.equal('{"name":"N"}', log[2].body)
      assert.equal(log[1].connection, log[2].connection)
      assert.not_equal(log[2].connection, log[3].connection)
    end)

    it("returns Retry-After, and every header on demand", function()
      m:faults { { path = "^/customers$", status = 429, headers = { ["Retry-After"] = "7", ["X-A"] = "1" } } }
      local status, _, _, retry_after = h:perform(s, "GET", m.url .. "/customers", nil, 5, false)
      assert.equal(429, status)
      assert.equal("7", retry_after)
      local headers = h:headers()
      assert.equal("7", headers["retry-after"])
      assert.equal("1", headers["x-a"])
    end)
  end)

  describe("failures", function()
    it("a server that does not answer in time: timeout, sent", function()
      m:faults { { path = "^/customers$", delay_ms = 3000 } }
      assert.same({ nil, "timeout", true }, { (function(a, b, _, d) return a, b, d end)(
        h:perform(s, "GET", m.url .. "/customers", nil, 0.3, false)) })
    end)

    it("nobody listening: connect_error, not sent", function()
      local nowhere = "http://127.0.0.1:" .. mock.free_port() .. "/x"
      local status, code, detail, sent = h:perform(s, "GET", nowhere, nil, 5)
      assert.is_nil(status)
      assert.equal("connect_error", code)
      assert.is_string(detail)
      assert.is_false(sent)
    end)

    it("a 10 MB URL: request_too_large, not sent", function()
      local status, code, detail, sent = h:perform(s, "GET", m.url .. "/customers?search="
        .. ("a"):rep(10 * 1024 * 1024), nil, 5, false)
      assert.is_nil(status)
      assert.equal("request_too_large", code)
      assert.matches("URL", detail)
      assert.is_false(sent)
      assert.equal(200, (h:perform(s, "GET", m.url .. "/customers", nil, 5, false))) -- still usable
    end)

    it("a body over max_body: response_too_large", function()
      local small = curl.new { max_body = 10 }
      local status, code = small:perform(s, "GET", m.url .. "/customers", nil, 5, false)
      small:close()
      assert.is_nil(status)
      assert.equal("response_too_large", code)
    end)
  end)

  describe("misuse raises", function()
    it("on bad arguments to perform", function()
      local url = m.url .. "/customers"
      assert.has_error(function() h:perform({}, "GET", url) end)
      assert.has_error(function() h:perform(h, "GET", url) end)
      assert.has_error(function() h:perform(s, "get", url) end)
      assert.has_error(function() h:perform(s, "GET /x HTTP/1.1\r\n", url) end)
      assert.has_error(function() h:perform(s, "GET", url .. "\0") end)
      for _, t in ipairs { 0, -1, 0 / 0, 1e5, math.huge } do
        assert.has_error(function() h:perform(s, "GET", url, nil, t) end)
      end
    end)

    it("on closed sessions and handles", function()
      local closed = core.session { api_key = KEY }
      closed:close()
      assert.has_error(function() h:perform(closed, "GET", m.url) end,
        "bad argument #1 to 'perform' (session is closed)")
      local other = curl.new()
      other:close()
      other:close()
      assert.has_error(function() other:perform(s, "GET", m.url) end)
      assert.matches("closed", tostring(other))
    end)

    -- Only LuaJIT's FFI can reach into a userdata to fake another build.
    local it_ffi = rawget(_G, "jit") and it or pending
    it_ffi("on a session from a paddle.core build with another layout", function()
      local abi = require("ffi").cast("uint32_t *", s)
      local saved = abi[0]
      abi[0] = saved + 1
      local ok, err = pcall(h.perform, h, s, "GET", m.url)
      abi[0] = saved
      assert.is_false(ok)
      assert.matches("does not match paddle.curl", err)
    end)

    it("on bad header lines", function()
      for _, lines in ipairs {
        { "X-A: 1\r\nX-B: 2" }, { "X-A: 1\n" }, { "X-A: \0" }, { "no colon" }, { ": empty name" },
        { "Authorization: Bearer other" }, { "authorization: x" }, { 1 }, { "X: " .. ("v"):rep(9000) },
      } do
        assert.has_error(function() h:set_headers(lines) end)
      end
      assert.equal(200, (h:perform(s, "GET", m.url .. "/customers", nil, 5, false))) -- the old list stays
    end)

    it("on options out of range or with CR/LF", function()
      for _, opts in ipairs {
        { timeout = 0 }, { timeout = 1e5 }, { timeout = 0 / 0 }, { timeout = "5" }, { connect_timeout = -1 },
        { max_body = 0 }, { max_body = 0 / 0 }, { max_body = 1e300 }, { proxy = "http://p\r\nX: y" },
        { ca_file = 5 }, { user_agent = "a\nb" },
      } do
        assert.has_error(function() curl.new(opts) end)
      end
    end)
  end)
end)

describe("paddle.curl over HTTPS", function()
  local m
  lazy_setup(function() m = mock.start { key = KEY, tls = true } end)
  lazy_teardown(function() if m then m:stop() end end)

  it("verifies the server against ca_file, and refuses an unknown CA", function()
    local s = core.session { api_key = KEY }
    local trusted = curl.new { ca_file = m.ca_file }
    assert.equal(200, (trusted:perform(s, "GET", m.url .. "/customers", nil, 5, false)))
    assert.equal(200, (trusted:perform(s, "GET", m.url .. "/customers", nil, 5, true)))
    trusted:close()
    local default = curl.new { ca_file = "/etc/ssl/certs/ca-certificates.crt" }
    local status, code, _, sent = default:perform(s, "GET", m.url .. "/customers", nil, 5, false)
    default:close()
    s:close()
    assert.is_nil(status)
    assert.equal("tls_error", code)
    assert.is_false(sent)
  end)
end)

describe("core numbers are range-checked before a cast", function()
  it("session options", function()
    for _, opts in ipairs {
      { max_retries = 2 ^ 31 }, { max_retries = 1.5 }, { max_retries = 0 / 0 }, { max_retries = 1e300 },
      { rate_requests = 2 ^ 40 }, { rate_requests = 2.5 }, { rate_per = math.huge }, { max_retry_wait = 1e9 },
      { backoff_base = -1 },
    } do
      opts.api_key = KEY
      assert.has_error(function() core.session(opts) end)
    end
    assert.has_error(function() core.session { api_key = "a\r\nb" } end)
    local s = core.session { api_key = KEY, max_retries = 1000 }
    assert.has_error(function() s:decide("GET", 2 ^ 40, 500, nil, true, nil, 0) end)
    assert.has_error(function() s:decide("GET", 1, 2 ^ 40, nil, true, nil, 0) end)
    assert.has_error(function() s:acquire(0 / 0) end)
    assert.has_error(function() s:acquire(math.huge) end)
    assert.has_error(function() s:blocked_until(0 / 0) end)
    assert.has_error(function() s:decide("GET", 1, 500, nil, true, nil, -math.huge) end)
    assert.has_error(function() core.window_acquire(nil, 10, 0 / 0, 0) end)
    assert.has_error(function() core.window_acquire(nil, 2 ^ 40, 60, 0) end)
    assert.has_error(function() core.sleep(1e300) end)
    assert.is_false(core.sleep(0 / 0))
  end)
end)

describe("core.is_id", function()
  it("is a prefix, '_' and 26 [a-z0-9]", function()
    assert.is_true(core.is_id("ctm", "ctm_01hv8gq4zx7w2x3y4z5a6b7c8d"))
    for _, bad in ipairs { "ctm_01hv8gq4zx7w2x3y4z5a6b7c8", "ctm_01hv8gq4zx7w2x3y4z5a6b7c8dd",
      "ctm-01hv8gq4zx7w2x3y4z5a6b7c8d", "add_01hv8gq4zx7w2x3y4z5a6b7c8d", "ctm_01HV8GQ4ZX7W2X3Y4Z5A6B7C8D",
      "ctm_01hv8gq4zx7w2x3y4z5a6b7c8\0", "", 5, false } do
      assert.is_false(core.is_id("ctm", bad))
    end
    assert.has_error(function() core.is_id(nil, "x") end)
  end)
end)

describe("paddle.transport.curl", function()
  local m
  lazy_setup(function() m = mock.start { key = KEY } end)
  lazy_teardown(function() if m then m:stop() end end)

  it("implements set_headers, send, headers, sleep and close", function()
    local s = core.session { api_key = KEY }
    local t = transport.new { timeout = 5, connect_timeout = 5 }
    t.set_headers { Accept = "application/json", ["X-Trace"] = "t" }
    local status, body, request_id = t.send(s, "GET", m.url .. "/customers", nil, 5, false)
    assert.equal(200, status)
    assert.is_string(body)
    assert.equal(request_id, t.headers()["request-id"])
    assert.equal("t", m:requests()[1].headers["x-trace"])
    assert.is_false(t.sleep(0.001))
    t.close()
    s:close()
    assert.is_boolean(transport.key_wipe)
  end)
end)
