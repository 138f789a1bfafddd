-- The fault matrix: every fault the emulator can inject, and what a small
-- hand-made server (spec/support/badserver_main.lua) does that the emulator
-- cannot, each tried on a get (customers.get), a list walk
-- (customers.list, failing on its second page) and a create
-- (customers.create). Per row and operation: what the caller gets (success
-- or the error code), how many attempts the client made and the server saw,
-- that a walk yields `false, err` once with a cursor that resumes it, that
-- no call outlives its timeout, and that a create never reaches the server
-- twice unless the first attempt provably did nothing.
local cjson = require "cjson"
local paddle = require "paddle"
local badserver = require "support.badserver"
local mock = require "support.mock"
local socket = require "socket"

local unpack = table.unpack or unpack -- luacheck: ignore (LuaJIT)

local KEY = "pdl_sdbx_apikey_01hv8gq4zx7w2x3y4z5a6b7c8d_faultmatrix"
-- Small timeouts keep the matrix fast: 3 s per call, 1 s per attempt.
local CLIENT = { rate_limit = false, backoff_base = 0.01, timeout = 3, attempt_timeout = 1, max_retries = 2 }
-- How long after its timeout a call may end on a loaded machine.
local SLACK = 0.75

---------------------------------------------------------------- expectations
-- ok(n): success after n attempts. fail(code, n, extra): nil, err with
-- err.code == code after n attempts. n counts the client's sends (on_request)
-- and, unless extra.seen says otherwise, the requests the server logged; for
-- a walk, those of the failing page only. extra may give:
--   status    err.status (an answer came: err.request_id must be set too)
--   detail    plain text err.detail must contain (the body's start)
--   retry_after  err.retry_after (seconds)
--   type      err.type (default: from the code, see TYPES)
--   seen      requests the server logged, when not n
--   yielded   walk: entities yielded before the failure (default 2: page 1)
--   created   emulator create: customers that exist afterwards (default: 1
--             on success, else 0)
--   err_attempts  false: err.attempts is not set (the pager's own
--             invalid_pagination errors carry neither attempts nor status)
--   bug       a known library bug this row exposes (it fails until fixed)
local function ok(n, extra)
  extra = extra or {}
  extra.attempts = n
  return extra
end

local function fail(code, n, extra)
  extra = extra or {}
  extra.code, extra.attempts = code, n
  return extra
end

-- err.type of each code not from Paddle's error body.
-- Moving tens of MB takes more than a second on a loaded machine: one attempt must fit.
local BIG_BODY = { timeout = 20, attempt_timeout = 10 }

local TYPES = {
  connect_error = "transport_error", timeout = "transport_error", connection_reset = "transport_error",
  truncated_body = "transport_error", tls_error = "transport_error", protocol_error = "transport_error",
  response_too_large = "transport_error", request_too_large = "client_error", interrupted = "transport_error",
  invalid_response = "decode_error", invalid_pagination = "decode_error",
}

-- A 200 that is not what the endpoint promises, refused at the first attempt.
local INVALID_200 = fail("invalid_response", 1, { status = 200 })

-- A badserver mode whose every answer is a malformed 200.
local function malformed(name, mode)
  return { name = name, mode = mode, get = INVALID_200, create = INVALID_200 }
end

-- The emulator's error codes for a bare status (lua/paddle/mock/errors.lua).
local PADDLE_CODE = {
  [429] = "too_many_requests", [500] = "internal_error", [502] = "bad_gateway",
  [503] = "service_unavailable", [504] = "gateway_timeout",
}

-- Rows. `fault`: an emulator fault (method and path are added per
-- operation); `mode`: a badserver mode; `server`: "tls" (the emulator over
-- HTTPS, its CA not given) or "refused" (a port nobody listens on).
-- `list` defaults to what `get` expects; an operation left out (or false)
-- is not run.
local ROWS = {
  { name = "429 once without Retry-After (Paddle's 60 s block outlasts the 3 s budget)",
    fault = { status = 429 },
    get = fail("timeout", 1, { status = 429 }),
    create = fail("timeout", 1, { status = 429 }) },
  { name = "429 once with Retry-After: 1 (waited, then retried; a 429 was not processed, so a POST too)",
    fault = { status = 429, headers = { ["Retry-After"] = "1" } },
    get = ok(2),
    create = ok(2, { seen = 2 }) },
  { name = "429 once with Retry-After: 120 (more than max_retry_wait: given up at once)",
    fault = { status = 429, headers = { ["Retry-After"] = "120" } },
    get = fail("too_many_requests", 1, { status = 429, type = "api_error", retry_after = 120 }),
    create = fail("too_many_requests", 1, { status = 429, type = "api_error", retry_after = 120 }) },
  { name = "429 always with Retry-After: 1, max_retries 1 (retried once, then Paddle's error)",
    fault = { status = 429, headers = { ["Retry-After"] = "1" }, times = -1 }, options = { max_retries = 1 },
    get = fail("too_many_requests", 2, { status = 429, type = "api_error", retry_after = 1 }),
    create = fail("too_many_requests", 2, { status = 429, type = "api_error", retry_after = 1 }) },
  { name = "503 once with Retry-After: 1 (waited, then retried; never a POST)",
    fault = { status = 503, headers = { ["Retry-After"] = "1" } },
    get = ok(2),
    create = fail("service_unavailable", 1, { status = 503, type = "api_error" }) },
  { name = "delay 1500 ms once (the attempt times out; the create happened anyway)",
    fault = { delay_ms = 1500 },
    get = ok(2),
    create = fail("timeout", 1, { created = 1 }) },
  { name = "delay 200 ms once (within the attempt's timeout)",
    fault = { delay_ms = 200 },
    get = ok(1),
    create = ok(1) },
  -- A walk's second page goes over the connection kept alive from the first;
  -- when that dies without an answer, libcurl itself sends the request again
  -- on a new one (never a POST: those always get a fresh connection). The
  -- server sees one request more than the client counts attempts.
  { name = "reset once (closed without an answer)",
    fault = { action = "reset" },
    get = ok(2),
    list = ok(1, { seen = 2 }),
    create = fail("connection_reset", 1) },
  { name = "reset always",
    fault = { action = "reset", times = -1 },
    get = fail("connection_reset", 3),
    list = fail("connection_reset", 3, { seen = 4 }),
    create = fail("connection_reset", 1) },
  { name = "truncate once (half the body, then closed)",
    fault = { action = "truncate" },
    get = ok(2),
    create = fail("truncated_body", 1, { created = 1 }) },
  { name = "truncate always",
    fault = { action = "truncate", times = -1 },
    get = fail("truncated_body", 3),
    create = fail("truncated_body", 1, { created = 1 }) },
  { name = "garbage once (a proxy's 502 HTML page)",
    fault = { action = "garbage" },
    get = ok(2),
    create = fail("invalid_response", 1, { status = 502 }) },
  { name = "garbage always",
    fault = { action = "garbage", times = -1 },
    get = fail("invalid_response", 3, { status = 502 }),
    create = fail("invalid_response", 1, { status = 502 }) },

  -- The hand-made server: a list's first page is good, the second is not.
  malformed("200 with {}", "empty_object"),
  { name = "200 with {\"data\":{...}} (an entity: right for get and create, wrong for a list)",
    mode = "data_object",
    get = ok(1),
    list = INVALID_200,
    create = ok(1) },
  malformed("200 with {\"error\":{...}}", "error_200"),
  malformed("200 with {\"data\":[1,2,3]}", "numbers"),
  { name = "200 with an HTML body (its start shown in the error)", mode = "not_json",
    get = fail("invalid_response", 1, { status = 200, detail = "Service temporarily unavailable" }),
    create = fail("invalid_response", 1, { status = 200, detail = "Service temporarily unavailable" }) },
  malformed("200 with an empty body", "empty_body"),
  { name = "200 list page with has_more but no next", mode = "bad_pagination",
    get = INVALID_200,
    list = fail("invalid_pagination", 1, { yielded = 3, err_attempts = false }),
    create = INVALID_200 },
  { name = "204 No Content where data is promised", mode = "no_content",
    get = fail("invalid_response", 1, { status = 204 }),
    create = fail("invalid_response", 1, { status = 204 }) },
  { name = "200 with an entity whose id has another prefix (add_)", mode = "wrong_prefix",
    get = INVALID_200,
    create = INVALID_200 },
  { name = "list page whose next names another origin (its path is sent to base_url only)",
    mode = "next_elsewhere",
    get = ok(1),
    create = ok(1) },
  { name = "list page 2 whose next goes back to page 1 (a walk that would never end)", mode = "cycle",
    get = ok(1),
    list = fail("invalid_pagination", 1, { yielded = 3, err_attempts = false }),
    create = ok(1) },
  { name = "list page 2 that is page 1 again (a cache ignoring the query)", mode = "stale_cache",
    get = ok(1),
    list = fail("invalid_pagination", 1, { yielded = 2, err_attempts = false }),
    create = ok(1) },
  { name = "reset (RST) mid-body", mode = "reset_mid_body",
    get = fail("connection_reset", 3),
    create = fail("connection_reset", 1) },
  { name = "closed (FIN) mid-body", mode = "close_mid_body",
    get = fail("truncated_body", 3),
    create = fail("truncated_body", 1) },
  { name = "body dribbled at 1 byte/s (every attempt times out, the call ends by its timeout)",
    mode = "dribble",
    get = fail("timeout", 3),
    create = fail("timeout", 1) },
  { name = "body dribbled at 1 byte/s, timeout 2.5 s, attempt_timeout 2 s (the last attempt gets what is left)",
    mode = "dribble", options = { timeout = 2.5, attempt_timeout = 2 },
    get = fail("timeout", 2), list = false },
  { name = "50 MB body that is not JSON (under the 64 MiB max_body: read, then refused)",
    mode = "body_50mb", options = BIG_BODY,
    get = INVALID_200,
    create = INVALID_200 },
  { name = "50 MB body that is valid JSON (under the 64 MiB max_body: accepted)",
    mode = "body_50mb_json", options = BIG_BODY,
    get = ok(1),
    create = ok(1) },
  { name = "gzip body inflating to 100 MiB (over max_body once inflated)", mode = "gzip_bomb", options = BIG_BODY,
    get = fail("response_too_large", 1),
    create = fail("response_too_large", 1) },
  { name = "Content-Encoding: gzip on a body that is not gzip", mode = "bad_gzip",
    get = fail("truncated_body", 3),
    create = fail("truncated_body", 1) },
  { name = "280 KB of response headers (over the 256 KiB kept)", mode = "big_headers",
    get = fail("response_too_large", 1),
    create = fail("response_too_large", 1) },
  { name = "70 MB body (over the 64 MiB max_body: refused while reading)", mode = "body_70mb", options = BIG_BODY,
    get = fail("response_too_large", 1),
    create = fail("response_too_large", 1) },
  { name = "an answer that is not HTTP", mode = "not_http",
    get = fail("protocol_error", 1),
    create = fail("protocol_error", 1) },
  { name = "302 to another origin (not followed; nothing sent there)", mode = "redirect_302",
    get = fail("invalid_response", 1, { status = 302, detail = "Moved" }),
    create = fail("invalid_response", 1, { status = 302, detail = "Moved" }) },
  { name = "307 to another origin (not followed; nothing sent there)", mode = "redirect_307",
    get = fail("invalid_response", 1, { status = 307, detail = "Moved" }),
    create = fail("invalid_response", 1, { status = 307, detail = "Moved" }) },

  { name = "self-signed TLS, CA not given", server = "tls",
    get = fail("tls_error", 1, { seen = 0 }),
    list = fail("tls_error", 1, { seen = 0, yielded = 0 }),
    create = fail("tls_error", 1, { seen = 0 }) },
  { name = "TLS with the emulator's CA given (the control row)", server = "tls_trusted",
    get = ok(1),
    create = ok(1) },
  { name = "connection refused (nothing sent: safe to retry, a POST too)", server = "refused",
    get = fail("connect_error", 3, { seen = 0 }),
    list = fail("connect_error", 3, { seen = 0, yielded = 0 }),
    create = fail("connect_error", 3, { seen = 0 }) },
}

-- 500/502/503/504: once (retried, never a POST), once with a Retry-After
-- longer than the budget (given up at once: no waiting 30 s), always.
for _, status in ipairs { 500, 502, 503, 504 } do
  local code = PADDLE_CODE[status]
  local function paddle_error(n) return fail(code, n, { status = status, type = "api_error" }) end
  ROWS[#ROWS + 1] = { name = status .. " once", fault = { status = status },
    get = ok(2), create = paddle_error(1) }
  ROWS[#ROWS + 1] = { name = status .. " once with Retry-After: 30 (more than the 3 s budget)",
    fault = { status = status, headers = { ["Retry-After"] = "30" } },
    get = fail("timeout", 1, { status = status }), create = paddle_error(1) }
  ROWS[#ROWS + 1] = { name = status .. " always", fault = { status = status, times = -1 },
    get = paddle_error(3), create = paddle_error(1) }
end

---------------------------------------------------------------- machinery
local OPERATIONS = { "get", "list", "create" }

local function type_of(expect)
  return expect.type or TYPES[expect.code]
end

local BADSERVER_IDS = {}
for i = 1, 3 do BADSERVER_IDS[i] = string.format("ctm_%026d", i) end

describe("fault matrix", function()
  local m, m_tls, bs, refused_url

  lazy_setup(function()
    m = mock.start { key = KEY, rate_limit = false }
    m_tls = mock.start { key = KEY, rate_limit = false, tls = true }
    bs = badserver.start()
    refused_url = "http://127.0.0.1:" .. mock.free_port()
  end)

  lazy_teardown(function()
    if m then m:stop() end
    if m_tls then m_tls:stop() end
    if bs then
      local output = bs:stop()
      assert.equal("", output:gsub("badserver listening[^\n]*\n", ""))
    end
  end)

  -- The emulator a row runs against (nil: the badserver or nothing).
  local function emulator_of(row)
    if row.fault then return m end
    if row.server == "tls" or row.server == "tls_trusted" then return m_tls end
    return nil
  end

  local function base_url(row, mode)
    local em = emulator_of(row)
    if em then return em.url end
    if row.mode then return bs:url(mode or row.mode) end
    return refused_url
  end

  -- A client for this row counting its attempts in sends.n.
  local function new_client(row, sends, mode)
    local opts = { api_key = KEY, base_url = base_url(row, mode) }
    for k, v in pairs(CLIENT) do opts[k] = v end
    for k, v in pairs(row.options or {}) do opts[k] = v end
    if row.server == "tls_trusted" then opts.ca_file = m_tls.ca_file end
    opts.on_request = function() sends.n = sends.n + 1 end
    return paddle.new(opts)
  end

  -- The three customers a walk reads, in order; made afresh on an emulator.
  local function seed(row)
    local em = emulator_of(row)
    if not em then return BADSERVER_IDS end
    em:reset()
    for i = 1, 3 do
      local r = em:request("POST", "/customers", { body = { email = "seed" .. i .. "@example.com" } })
      assert.equal(201, r.status)
    end
    local ids = {}
    for _, c in ipairs(em:request("GET", "/customers?per_page=200").json.data) do ids[#ids + 1] = c.id end
    assert.equal(3, #ids)
    return ids
  end

  -- Marks the server's log; returns count(method, path_pattern): the
  -- requests logged since (API paths without the badserver's mode prefix).
  local function server_log(row)
    local em = emulator_of(row)
    local log
    if em then
      log = function() return em:requests() end
    elseif row.mode then
      log = function()
        local api = {}
        for _, r in ipairs(bs:log()) do
          if r.port == "api" then api[#api + 1] = { method = r.method, path = r.path:gsub("^/[%w_]+", "") } end
        end
        return api
      end
    else
      log = function() return {} end
    end
    local before = #log()
    return function(method, pattern)
      local n = 0
      for i, r in ipairs(log()) do
        if i > before and r.method == method and r.path:find(pattern) then n = n + 1 end
      end
      return n
    end
  end

  local FAULT_TARGET = {
    get = { method = "GET", path = "^/customers/ctm_" },
    list = { method = "GET", path = "^/customers$" },
    create = { method = "POST", path = "^/customers$" },
  }

  local function install_fault(row, op)
    local f = {}
    for k, v in pairs(row.fault) do f[k] = v end
    f.method, f.path = FAULT_TARGET[op].method, FAULT_TARGET[op].path
    m:faults { f }
  end

  local function assert_error(expect, err, attempts_seen)
    assert.is_table(err, "expected an error value")
    assert.equal(expect.code, err.code, tostring(err))
    assert.equal(type_of(expect), err.type, tostring(err))
    if expect.status then
      assert.equal(expect.status, err.status, tostring(err))
      assert.is_string(err.request_id, "err.request_id: " .. tostring(err))
    end
    if expect.retry_after then assert.equal(expect.retry_after, err.retry_after, tostring(err)) end
    if expect.detail then assert.truthy(tostring(err.detail):find(expect.detail, 1, true), tostring(err)) end
    local attempts = attempts_seen
    if expect.err_attempts == false then attempts = nil end
    assert.equal(attempts, err.attempts, "err.attempts: " .. tostring(err))
    assert.is_nil(tostring(err):find(KEY, 1, true), "the key must not appear in an error")
  end

  local function timed(row, fn)
    local started = socket.gettime()
    local a, b = fn()
    local limit = ((row.options or {}).timeout or CLIENT.timeout) + SLACK
    local elapsed = socket.gettime() - started
    assert.is_true(elapsed <= limit, string.format("took %.2f s, more than the timeout + %.2f s", elapsed, SLACK))
    return a, b
  end

  local RUN = {}

  function RUN.get(row, expect)
    local ids = seed(row)
    if row.fault then install_fault(row, "get") end
    local sends = { n = 0 }
    local client = new_client(row, sends)
    local count = server_log(row)
    local id = ids[1]
    local c, err = timed(row, function() return client.customers.get(id) end)
    client.close()
    if expect.code then
      assert.is_nil(c)
      assert_error(expect, err, expect.attempts)
    else
      assert.is_table(c, tostring(err))
      assert.equal(id, c.id)
    end
    assert.equal(expect.attempts, sends.n, "attempts made")
    assert.equal(expect.seen or expect.attempts, count("GET", "^/customers/ctm_"), "requests the server saw")
  end

  -- Reads the walk; calls at_page_end() once page 1 (2 entities) is out.
  local function walk(client, query, at_page_end)
    local got, failures, ended = {}, {}, false
    local next_entity = client.customers.list(query)
    for _ = 1, 20 do
      local c, err = next_entity()
      if c == nil then ended = true; break end
      if c == false then failures[#failures + 1] = err else got[#got + 1] = c.id end
      if #got == 2 and at_page_end then at_page_end(); at_page_end = nil end
    end
    assert.is_true(ended, "the walk must end")
    assert.is_nil(next_entity(), "nothing after the end")
    return got, failures
  end

  function RUN.list(row, expect)
    local ids = seed(row)
    local sends = { n = 0 }
    local client = new_client(row, sends)
    local count = server_log(row)
    local function page_end()
      if row.fault then install_fault(row, "list") end
      count = server_log(row)
      sends.n = 0
    end
    local got, failures = timed(row, function() return walk(client, { per_page = 2 }, page_end) end)
    client.close()
    local seen = count("GET", "^/customers$")
    local yielded = expect.code and (expect.yielded or 2) or 3
    assert.same({ unpack(ids, 1, yielded) }, got)
    if expect.code then
      assert.equal(1, #failures, "false, err yielded once")
      local err = failures[1]
      assert_error(expect, err, expect.attempts)
      assert.equal(ids[yielded], err.cursor, "err.cursor: the last entity read")
      if yielded > 0 then
        -- Resuming at err.cursor yields the rest, nothing lost or repeated.
        if row.fault then m:faults {} end
        local again = new_client(row, { n = 0 }, "good")
        local rest, more_failures = walk(again, { per_page = 2, after = err.cursor })
        again.close()
        assert.same({}, more_failures)
        for _, id in ipairs(rest) do got[#got + 1] = id end
        assert.same(ids, got, "the walk resumed at err.cursor")
      end
    else
      assert.same({}, failures)
    end
    assert.equal(expect.attempts, sends.n, "attempts made for the failing page")
    assert.equal(expect.seen or expect.attempts, seen, "requests the server saw")
  end

  local emails = 0
  function RUN.create(row, expect)
    local em = emulator_of(row)
    seed(row)
    if row.fault then install_fault(row, "create") end
    emails = emails + 1
    local email = "matrix" .. emails .. "@example.com"
    local sends = { n = 0 }
    local client = new_client(row, sends)
    if row.fault then
      -- A connection kept alive from a GET: were the POST sent over it and
      -- that died unanswered, libcurl would silently send the POST again.
      assert(client.request("GET", "/customers", { query = { per_page = 1 } }))
      sends.n = 0
    end
    local count = server_log(row)
    local c, err = timed(row, function() return client.customers.create { email = email } end)
    client.close()
    if expect.code then
      assert.is_nil(c)
      assert_error(expect, err, expect.attempts)
    else
      assert.is_table(c, tostring(err))
      assert.matches("^ctm_", c.id)
    end
    assert.equal(expect.attempts, sends.n, "attempts made")
    local posts = count("POST", "^/customers$")
    assert.equal(expect.seen or expect.attempts, posts, "POSTs the server saw")
    if em then
      -- Never two customers, whatever the number of POSTs.
      local r = em:request("GET", "/customers?email=" .. email)
      local created = expect.created or (expect.code and 0 or 1)
      assert.equal(created, #r.json.data, "customers created")
    elseif posts > 1 then
      error("a create reached the server " .. posts .. " times")
    end
  end

  for _, row in ipairs(ROWS) do
    describe(row.name, function()
      for _, op in ipairs(OPERATIONS) do
        local expect = row[op]
        if expect == nil and op == "list" then expect = row.get end
        if expect then
          local title = op .. ": " .. (expect.code or "ok") .. ", " .. expect.attempts .. " attempt(s)"
          if row.bug then title = "KNOWN BUG (" .. row.bug .. ") " .. title end
          it(title, function() RUN[op](row, expect) end)
        end
      end
      if row.mode then
        it("sends nothing elsewhere", function()
          for _, r in ipairs(bs:log()) do
            assert.equal("api", r.port, "a request reached " .. r.port .. ": " .. cjson.encode(r))
          end
        end)
      end
    end)
  end
end)
