-- The emulator's API key check, admin API, injected faults and request log.
local cjson = require "cjson"
local mock = require "support.mock"
local socket = require "socket"

local KEY = "pdl_sdbx_apikey_01hv8gq4zx7w2x3y4z5a6b7c8d_admintest0000000000_abc"

-- One HTTP/1.1 exchange over an open luasocket connection. Returns status,
-- headers (lowercase), body, and the error that cut the body short, if any.
local function exchange(conn, method, path, body, headers)
  local lines = { method .. " " .. path .. " HTTP/1.1", "Host: 127.0.0.1" }
  for k, v in pairs(headers or {}) do lines[#lines + 1] = k .. ": " .. v end
  if body then lines[#lines + 1] = "Content-Length: " .. #body end
  assert(conn:send(table.concat(lines, "\r\n") .. "\r\n\r\n" .. (body or "")))
  local status_line, err = conn:receive("*l")
  if not status_line then return nil, nil, nil, err end
  local out = {}
  while true do
    local line = assert(conn:receive("*l"))
    if line == "" then break end
    local k, v = line:match("^([^:]+):%s*(.*)$")
    out[k:lower()] = v
  end
  local length = tonumber(out["content-length"] or 0)
  local data, cut, partial = conn:receive(length)
  return tonumber(status_line:match("^HTTP/1%.1 (%d+)")), out, data or partial, cut
end

local function connect(m, local_address)
  local conn = socket.tcp()
  conn:settimeout(5)
  if local_address then assert(conn:bind(local_address, 0)) end
  assert(conn:connect("127.0.0.1", m.port))
  return conn
end

describe("paddle-mock", function()
  local m

  setup(function() m = mock.start { key = KEY } end)
  teardown(function() if m then m:stop() end end)
  before_each(function() m:reset() end)

  local function assert_error(r, status, code)
    assert.equal(status, r.status, r.body)
    assert.equal(code, r.json.error.code)
    assert.equal(r.headers["request-id"], r.json.meta.request_id)
    return r.json.error
  end

  describe("API key", function()
    it("answers 403 without Authorization, for a malformed header or a wrong key", function()
      assert_error(m:request("GET", "/customers", { key = false }), 403, "authentication_missing")
      assert_error(m:request("GET", "/customers", { key = false, headers = { Authorization = "Basic abc" } }),
        403, "authentication_malformed")
      local err = assert_error(m:request("GET", "/customers", { key = "pdl_sdbx_apikey_wrong" }), 403,
        "invalid_token")
      assert.equal("https://developer.paddle.com/errors/shared/invalid_token", err.documentation_url)
      assert.equal(200, m:request("GET", "/customers").status)
    end)

    it("accepts any Bearer token when no key is configured, until reset restores the launcher's", function()
      assert.equal(cjson.null, m:config({ api_key = cjson.null }).api_key)
      assert.equal(200, m:request("GET", "/customers", { key = "anything" }).status)
      assert_error(m:request("GET", "/customers", { key = false }), 403, "authentication_missing")
      m:config { api_key = "other-key" }
      assert_error(m:request("GET", "/customers"), 403, "invalid_token")
      assert.equal(200, m:request("GET", "/customers", { key = "other-key" }).status)
      m:reset()
      assert.equal(KEY, m:admin("GET", "config").data.api_key)
      assert.equal(200, m:request("GET", "/customers").status)
    end)
  end)

  describe("routing", function()
    it("answers 404 for unknown paths and 405 for unknown methods", function()
      assert_error(m:request("GET", "/products"), 404, "not_found")
      local r = m:request("DELETE", "/customers")
      assert_error(r, 405, "method_not_allowed")
      assert.equal("GET, POST", r.headers["allow"])
      assert.equal(404, m:request("GET", "/__mock/nothing", { key = false }).status)
    end)
  end)

  describe("faults", function()
    it("replaces the answer with a status for the given number of times, by method and path", function()
      m:faults { { method = "GET", path = "^/customers$", status = 500, times = 2 } }
      for _ = 1, 2 do
        local err = assert_error(m:request("GET", "/customers"), 500, "internal_error")
        assert.equal("api_error", err.type)
      end
      assert.equal(200, m:request("GET", "/customers").status)
      assert.equal(0, m:admin("GET", "faults").data[1].remaining)
    end)

    it("leaves other methods and paths alone", function()
      m:faults { { method = "POST", path = "^/customers$", status = 503, times = -1 } }
      assert.equal(200, m:request("GET", "/customers").status)
      for _ = 1, 3 do
        assert.equal(503, m:request("POST", "/customers", { body = { email = "x@example.com" } }).status)
      end
      m:faults {}
      assert.equal(201, m:request("POST", "/customers", { body = { email = "x@example.com" } }).status)
    end)

    it("sends the fault's own headers and body", function()
      local body = { error = { type = "request_error", code = "too_many_requests", detail = "slow down",
        documentation_url = "https://developer.paddle.com/errors/shared/too_many_requests" } }
      m:faults { { path = "^/customers/", status = 429, headers = { ["Retry-After"] = "7" }, body = body } }
      local r = m:request("GET", "/customers/ctm_01h8441jn5pcwrfhwh78jqt8hk")
      assert.equal(429, r.status)
      assert.equal("7", r.headers["retry-after"])
      assert.same(body, r.json)
      assert.equal(404, m:request("GET", "/customers/ctm_01h8441jn5pcwrfhwh78jqt8hk").status)
    end)

    it("takes the first matching fault that has hits left", function()
      m:faults {
        { path = "^/customers", status = 502, times = 1 },
        { path = "^/customers", status = 504, times = 1 },
      }
      assert.equal(502, m:request("GET", "/customers").status)
      assert.equal(504, m:request("GET", "/customers").status)
      assert.equal(200, m:request("GET", "/customers").status)
    end)

    it("delays the normal answer without holding up other requests", function()
      m:faults { { path = "^/events$", delay_ms = 800 } }
      local slow = connect(m)
      assert(slow:send("GET /events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " .. KEY .. "\r\n\r\n"))
      local started = socket.gettime()
      assert.equal(200, m:request("GET", "/customers").status)
      assert.is_true(socket.gettime() - started < 0.6, "a delayed request held up another one")
      local status, _, body = exchange(slow, "GET", "/customers", nil, { Authorization = "Bearer " .. KEY })
      -- The first response on the connection is the delayed /events one.
      assert.equal(200, status)
      assert.matches('"pagination"', body)
      assert.is_true(socket.gettime() - started >= 0.75)
      slow:close()
    end)

    it("resets the connection without a response", function()
      m:faults { { path = "^/customers$", action = "reset" } }
      local conn = connect(m)
      local status, _, _, err = exchange(conn, "GET", "/customers", nil, { Authorization = "Bearer " .. KEY })
      conn:close()
      assert.is_nil(status)
      assert.equal("closed", err)
      assert.equal(200, m:request("GET", "/customers").status)
      local log = m:requests()
      assert.equal(cjson.null, log[1].status)
      assert.equal("reset", log[1].fault)
    end)

    it("truncates the body: full Content-Length, half the bytes, closed", function()
      m:faults { { path = "^/customers$", action = "truncate" } }
      local conn = connect(m)
      local status, headers, body, err = exchange(conn, "GET", "/customers", nil,
        { Authorization = "Bearer " .. KEY })
      conn:close()
      assert.equal(200, status)
      local length = tonumber(headers["content-length"])
      assert.is_true(length > 100)
      assert.equal("closed", err)
      assert.equal(math.floor(length / 2), #body)
      assert.equal('{"data":[]', body:sub(1, 10))
    end)

    it("answers garbage: a 502 HTML page as a proxy would", function()
      m:faults { { path = "^/customers$", action = "garbage" } }
      local r = m:request("GET", "/customers")
      assert.equal(502, r.status)
      assert.matches("^text/html", r.headers["content-type"])
      assert.matches("^<html>", r.body)
      assert.is_nil(r.json)
    end)

    it("rejects invalid fault lists", function()
      local function post(list) return m:request("POST", "/__mock/faults", { key = false, body = list }) end
      local r = post { { path = "x", action = "explode" } }
      assert.equal(400, r.status)
      assert.equal("[0].action", r.json.error.errors[1].field)
      r = post { { path = "[", status = 500 } }
      assert.equal("[0].path", r.json.error.errors[1].field)
      r = post { { path = "x" } }
      assert.equal(400, r.status)
    end)
  end)

  describe("request log", function()
    it("records what clients sent, with the Authorization value redacted", function()
      local r = m:request("POST", "/customers?source=spec&x=a%20b", { body = '{"email":"log@example.com"}',
        headers = { ["X-Trace"] = "t-1" } })
      assert.equal(201, r.status)
      m:admin("GET", "config")
      local raw = m:request("GET", "/__mock/requests", { key = false }).body
      assert.is_nil(raw:find(KEY, 1, true))
      local log = cjson.decode(raw).data
      assert.equal(1, #log)
      local e = log[1]
      assert.equal("POST", e.method)
      assert.equal("/customers", e.path)
      assert.equal("source=spec&x=a%20b", e.query)
      assert.equal('{"email":"log@example.com"}', e.body)
      assert.equal("Bearer [REDACTED]", e.headers.authorization)
      assert.equal("t-1", e.headers["x-trace"])
      assert.equal("application/json", e.headers["content-type"])
      assert.equal(201, e.status)
      assert.equal(r.headers["request-id"], e.request_id)
      assert.matches("^%d%d%d%d%-%d%d%-%d%dT", e.time)
      assert.is_number(e.connection)
    end)

    it("shows keep-alive: one connection number for requests on one connection", function()
      local conn = connect(m)
      for _ = 1, 3 do
        assert.equal(200, (exchange(conn, "GET", "/customers", nil, { Authorization = "Bearer " .. KEY })))
      end
      conn:close()
      assert.equal(200, m:request("GET", "/customers").status)
      local log = m:requests()
      assert.equal(4, #log)
      assert.equal(log[1].connection, log[2].connection)
      assert.equal(log[1].connection, log[3].connection)
      assert.same({ 1, 2, 3 }, { log[1].connection_requests, log[2].connection_requests,
        log[3].connection_requests })
      assert.are_not.equal(log[1].connection, log[4].connection)
    end)

    it("logs faulted requests and is emptied by reset", function()
      m:faults { { path = "^/customers$", status = 500 } }
      m:request("GET", "/customers")
      local log = m:requests()
      assert.equal(1, #log)
      assert.equal(500, log[1].status)
      assert.equal("status", log[1].fault)
      m:reset()
      assert.same({}, m:requests())
    end)
  end)

  describe("seed", function()
    it("creates customers in bulk, in id order", function()
      local s = m:seed { customers = 120, email_domain = "seed.test" }
      assert.equal(120, s.customers)
      assert.is_true(s.first_id < s.last_id)
      local r = m:request("GET", "/customers?per_page=200")
      assert.equal(120, #r.json.data)
      assert.equal(s.last_id, r.json.data[1].id)
      assert.equal(s.first_id, r.json.data[120].id)
      assert.matches("@seed%.test$", r.json.data[1].email)
      local again = m:request("GET", "/customers?email=" .. r.json.data[1].email)
      assert.same({ r.json.data[1] }, again.json.data)
      local bad = m:request("POST", "/__mock/seed", { key = false, body = { customers = -1 } })
      assert.equal(400, bad.status)
    end)
  end)
end)

describe("paddle-mock with two workers", function()
  local m

  setup(function() m = mock.start { workers = 2 } end)
  teardown(function() if m then m:stop() end end)

  it("shares data and fault hit counts between workers", function()
    local ids = {}
    for i = 1, 20 do
      local r = m:request("POST", "/customers", { body = { email = ("w%d@example.com"):format(i) } })
      assert.equal(201, r.status)
      ids[i] = r.json.data.id
    end
    for _, id in ipairs(ids) do assert.equal(200, m:request("GET", "/customers/" .. id).status) end
    assert.equal(20, m:request("GET", "/customers").json.meta.pagination.estimated_total)

    m:faults { { path = "^/customers$", status = 500, times = 5 } }
    local faulted = 0
    for _ = 1, 12 do
      if m:request("GET", "/customers").status == 500 then faulted = faulted + 1 end
    end
    assert.equal(5, faulted)
  end)
end)
