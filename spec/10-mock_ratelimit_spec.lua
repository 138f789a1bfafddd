-- The emulator's rate limit: a sliding window per client address, then a
-- block during which every request is answered 429 with Retry-After.
local mock = require "support.mock"
local socket = require "socket"

-- A GET /customers from a chosen loopback source address (127.0.0.x), over
-- a raw connection. Returns status and the Retry-After header.
local function get_from(m, source)
  local conn = socket.tcp()
  conn:settimeout(5)
  assert(conn:bind(source, 0))
  assert(conn:connect("127.0.0.1", m.port))
  assert(conn:send("GET /customers HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer k\r\n"
    .. "Connection: close\r\n\r\n"))
  local status = tonumber(assert(conn:receive("*l")):match("^HTTP/1%.1 (%d+)"))
  local retry_after
  while true do
    local line = assert(conn:receive("*l"))
    if line == "" then break end
    retry_after = line:match("^[Rr]etry%-[Aa]fter:%s*(%d+)") or retry_after
  end
  conn:close()
  return status, tonumber(retry_after)
end

describe("paddle-mock rate limit", function()
  local m

  setup(function() m = mock.start { rate_limit = { requests = 3, per = 60, block = 30 } } end)
  teardown(function() if m then m:stop() end end)
  before_each(function() m:reset() end)

  local function get() return m:request("GET", "/customers") end

  it("answers 429 too_many_requests with Retry-After past the limit, then blocks", function()
    for _ = 1, 3 do assert.equal(200, get().status) end
    local r = get()
    assert.equal(429, r.status)
    assert.equal("30", r.headers["retry-after"])
    assert.equal("api_error", r.json.error.type) -- as in production (paddle-node-sdk issue #93)
    assert.equal("too_many_requests", r.json.error.code)
    assert.equal("IP address exceeded the allowed rate limit. Retry after the number of seconds in the "
      .. "Retry-After header.", r.json.error.detail)
    assert.equal(r.headers["request-id"], r.json.meta.request_id)
    -- Blocked: everything is refused, whatever the path, with what is left of the block.
    local again = m:request("GET", "/customers/ctm_01h8441jn5pcwrfhwh78jqt8hk")
    assert.equal(429, again.status)
    local left = tonumber(again.headers["retry-after"])
    assert.is_true(left >= 29 and left <= 30)
  end)

  it("limits each client address on its own", function()
    for _ = 1, 3 do assert.equal(200, (get_from(m, "127.0.0.2"))) end
    local status, retry_after = get_from(m, "127.0.0.2")
    assert.equal(429, status)
    assert.equal(30, retry_after)
    assert.equal(200, (get_from(m, "127.0.0.3")))
    assert.equal(200, get().status)
  end)

  it("neither limits nor logs the admin API", function()
    for _ = 1, 3 do assert.equal(200, get().status) end
    for _ = 1, 10 do m:admin("GET", "health") end
    assert.equal(3, #m:requests())
    assert.equal(429, get().status)
  end)

  it("is configured at run time and lifted with rate_limit false", function()
    assert.same({ requests = 3, per = 60, block = 30 }, m:admin("GET", "config").data.rate_limit)
    m:config { rate_limit = { requests = 1, per = 60, block = 5 } }
    assert.equal(200, get().status)
    local r = get()
    assert.equal(429, r.status)
    assert.equal("5", r.headers["retry-after"])
    m:config { rate_limit = false }
    for _ = 1, 10 do assert.equal(200, get().status) end
    local bad = m:request("POST", "/__mock/config", { key = false, body = { rate_limit = { requests = 0 } } })
    assert.equal(400, bad.status)
  end)

  it("is a true sliding window: the oldest request must leave it", function()
    -- No block: only the window refuses, and says when its oldest request leaves.
    m:config { rate_limit = { requests = 2, per = 10, block = 0 } }
    assert.equal(200, get().status)
    assert.equal(200, get().status)
    local r = get()
    assert.equal(429, r.status)
    local wait = tonumber(r.headers["retry-after"])
    assert.is_true(wait >= 9 and wait <= 10, "Retry-After " .. tostring(wait))
    -- A refused request takes no place in the window.
    m:config { rate_limit = { requests = 2, per = 0.5, block = 0 } }
    assert.equal(200, get().status)
    assert.equal(200, get().status)
    assert.equal(429, get().status)
    socket.sleep(0.55)
    assert.equal(200, get().status)
    assert.equal(200, get().status)
    assert.equal(429, get().status)
  end)

  it("keeps blocking after the window has passed, until the block ends", function()
    m:config { rate_limit = { requests = 1, per = 0.2, block = 1 } }
    assert.equal(200, get().status)
    assert.equal(429, get().status)
    socket.sleep(0.4) -- the window is clear, the block is not
    assert.equal(429, get().status)
    socket.sleep(0.7) -- 1.1 s after the block began
    assert.equal(200, get().status)
  end)
end)

describe("paddle-mock default rate limit", function()
  it("is 240 requests per 60 s, blocking 60 s, unless turned off", function()
    local default, off
    finally(function()
      if default then default:stop() end
      if off then off:stop() end
    end)
    default = mock.start { rate_limit = true }
    assert.same({ requests = 240, per = 60, block = 60 }, default:admin("GET", "config").data.rate_limit)
    off = mock.start { rate_limit = false }
    assert.equal(false, off:admin("GET", "config").data.rate_limit)
  end)
end)
