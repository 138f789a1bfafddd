-- The hand-made server of the fault matrix (spec/27-fault_matrix_spec.lua):
-- a separate lua5.4 process that misbehaves in the ways the emulator cannot.
-- Started by spec/support/badserver.lua, never by hand:
--
--   lua5.4 spec/support/badserver_main.lua <watched pid>
--
-- It listens on two free loopback ports and prints one line
--   badserver listening on <port> elsewhere <port>
-- The first serves the API under a mode prefix: /<mode>/customers,
-- /<mode>/customers/<id>; a list's first page is always good, its second
-- page (after=...), a get and a create get what the mode says (MODES). The
-- second port is "elsewhere": the target of the redirects, where nothing
-- must ever arrive. GET /__log (either port) answers the log of every
-- request, in order: { port, mode, kind, method, path, query, auth }
-- (auth: whether an Authorization header came; its value is never kept).
--
-- One coroutine per connection over socket.select, so a body dribbled at
-- 1 byte/s never holds up the next connection. Exits when the watched
-- process is gone, so a spec that dies leaves nothing behind.
local socket = require "socket"

local concat = table.concat
local coroutine_create = coroutine.create
local coroutine_resume = coroutine.resume
local coroutine_running = coroutine.running
local coroutine_yield = coroutine.yield
local floor = math.floor
local format = string.format
local io_open = io.open
local ipairs = ipairs
local pairs = pairs
local rep = string.rep
local tonumber = tonumber
local tostring = tostring
local type = type

local WATCHED = assert(tonumber(arg[1]), "usage: badserver_main.lua <watched pid>")
local HOST = "127.0.0.1"

local api = assert(socket.bind(HOST, 0))
local elsewhere = assert(socket.bind(HOST, 0))
api:settimeout(0)
elsewhere:settimeout(0)
local _, api_port = api:getsockname()
local _, elsewhere_port = elsewhere:getsockname()
local ORIGIN = "http://" .. HOST .. ":" .. api_port
local ELSEWHERE = "http://" .. HOST .. ":" .. elsewhere_port

---------------------------------------------------------------- scheduler
local reading, writing, sleeping = {}, {}, {}

local function wait_read(s)
  reading[s] = coroutine_running()
  coroutine_yield()
end

local function wait_write(s)
  writing[s] = coroutine_running()
  coroutine_yield()
end

local function sleep(seconds)
  sleeping[#sleeping + 1] = { co = coroutine_running(), at = socket.gettime() + seconds }
  coroutine_yield()
end

local function resume(co)
  local ok, err = coroutine_resume(co)
  if not ok then io.stderr:write("badserver: ", tostring(err), "\n") end
end

---------------------------------------------------------------- I/O
local function receive(c, pattern)
  local acc = ""
  while true do
    local data, err, partial = c:receive(pattern, acc)
    if data then return data end
    if err ~= "timeout" then return nil, err end
    acc = partial -- a number pattern counts the prefix too
    wait_read(c)
  end
end

local function send_all(c, data)
  local i = 1
  while i <= #data do
    local last, err, partial_last = c:send(data, i)
    if last then
      i = last + 1
    elseif err == "timeout" then
      i = (partial_last or i - 1) + 1
      wait_write(c)
    else
      return nil, err
    end
  end
  return true
end

-- The request: method, target, headers (lowercase names), body.
local function read_request(c)
  local line = receive(c, "*l")
  if not line then return nil end
  local method, target = line:match("^(%u+) (%S+) HTTP/1%.%d$")
  if not method then return nil end
  local headers = {}
  while true do
    local h = receive(c, "*l")
    if not h then return nil end
    if h == "" then break end
    local name, value = h:match("^([^:]+):%s*(.-)%s*$")
    if name then headers[name:lower()] = value end
  end
  local length = tonumber(headers["content-length"] or "0") or 0
  local body = ""
  if length > 0 then
    body = receive(c, length)
    if not body then return nil end
  end
  return method, target, headers, body
end

local REASONS = { [200] = "OK", [201] = "Created", [302] = "Found", [307] = "Temporary Redirect" }

-- The status line and headers; content_length may differ from #body.
local function head(status, content_type, content_length, extra)
  local lines = {
    format("HTTP/1.1 %d %s", status, REASONS[status] or "Status"),
    "Content-Type: " .. content_type,
    "Content-Length: " .. content_length,
    "Request-Id: badserver",
    "Connection: close",
  }
  for _, h in ipairs(extra or {}) do lines[#lines + 1] = h end
  return concat(lines, "\r\n") .. "\r\n\r\n"
end

---------------------------------------------------------------- answers
local function customer_id(n) return format("ctm_%026d", n) end

local function customer(n)
  return format('{"id":"%s","email":"c%d@example.com","name":null,"status":"active","custom_data":null}',
    customer_id(n), n)
end

local function list_page(mode, items, after)
  local more = after ~= nil
  local next_url = more and format('"%s/%s/customers?after=%s&per_page=2"', ORIGIN, mode, after) or "null"
  return format('{"data":[%s],"meta":{"request_id":"badserver","pagination":{"per_page":2,"next":%s,'
    .. '"has_more":%s,"estimated_total":3}}}', concat(items, ","), next_url, tostring(more))
end

-- The good answer of each kind of request: what mode "good" serves. A
-- list holds customers 1 to 3, two per page.
local function good(mode, kind, query)
  if kind == "list1" then return 200, list_page(mode, { customer(1), customer(2) }, customer_id(2)) end
  if kind == "list2" then
    local after = tonumber(query:match("after=ctm_(%d+)")) or 0
    return 200, list_page(mode, after < 3 and { customer(3) } or {}, nil)
  end
  if kind == "create" then return 201, '{"data":' .. customer(9) .. ',"meta":{"request_id":"badserver"}}' end
  return 200, '{"data":' .. customer(1) .. ',"meta":{"request_id":"badserver"}}'
end

local function answer(c, status, body, content_type, extra)
  send_all(c, head(status, content_type or "application/json", #body, extra) .. body)
  c:close()
end

-- Half the body, then a close: plain (FIN) or a reset (RST).
local function cut(c, reset)
  local body = rep(" ", 1000) .. '{"data":' .. customer(1) .. "}"
  send_all(c, head(200, "application/json", #body) .. body:sub(1, floor(#body / 2)))
  if reset then c:setoption("linger", { on = true, timeout = 0 }) end
  c:close()
end

local MB = 1024 * 1024

-- `size` bytes that are not JSON, as fast as the client takes them.
local function flood(c, size)
  local chunk = rep("x", MB)
  if not send_all(c, head(200, "application/json", size)) then return c:close() end
  local left = size
  while left > 0 do
    local n = left < MB and left or MB
    if not send_all(c, n == MB and chunk or chunk:sub(1, n)) then break end
    left = left - n
  end
  c:close()
end

-- What each mode does to a get, a list's second page and a create.
local MODES = {
  good = false,
  empty_object = { 200, "{}" },
  data_object = { 200, '{"data":' .. customer(1) .. ',"meta":{"request_id":"badserver"}}' },
  error_200 = { 200, '{"error":{"type":"request_error","code":"bad_request","detail":"Invalid request."},'
    .. '"meta":{"request_id":"badserver"}}' },
  numbers = { 200, '{"data":[1,2,3],"meta":{"request_id":"badserver","pagination":{"per_page":2,'
    .. '"next":null,"has_more":false}}}' },
  not_json = { 200, "<html><body>Service temporarily unavailable</body></html>", "text/html" },
  empty_body = { 200, "" },
  bad_pagination = { 200, '{"data":[' .. customer(3) .. '],"meta":{"request_id":"badserver",'
    .. '"pagination":{"per_page":2,"next":null,"has_more":true}}}' },
  reset_mid_body = function(c) cut(c, true) end,
  close_mid_body = function(c) cut(c, false) end,
  dribble = function(c)
    local body = '{"data":' .. customer(1) .. "}"
    if not send_all(c, head(200, "application/json", #body)) then return c:close() end
    for i = 1, #body do
      if not send_all(c, body:sub(i, i)) then break end
      sleep(1)
    end
    c:close()
  end,
  body_50mb = function(c) flood(c, 50 * 1000 * 1000) end,
  body_70mb = function(c) flood(c, 70 * 1000 * 1000) end,
  not_http = function(c)
    send_all(c, "SSH-2.0-OpenSSH_9.2\r\n")
    c:close()
  end,
}
-- gzip of 100 MiB of zeros (about 100 KB), made on first use.
local bomb
local function gzip_bomb()
  if not bomb then
    local p = assert(io.popen("head -c 104857600 /dev/zero | gzip -1 -c"))
    bomb = p:read("*a")
    p:close()
  end
  return bomb
end

-- A customer named with `size` bytes: valid JSON, just enormous.
local function huge_customer(n, size)
  return format('{"id":"%s","email":"c%d@example.com","name":"%s","status":"active"}',
    customer_id(n), n, rep("x", size))
end

MODES.no_content = { 204, "" }
MODES.wrong_prefix = { 200, '{"data":' .. customer(1):gsub("ctm_", "add_") .. ',"meta":{"request_id":"badserver"}}' }
MODES.gzip_bomb = function(c)
  answer(c, 200, gzip_bomb(), "application/json", { "Content-Encoding: gzip" })
end
MODES.bad_gzip = { 200, "this is not gzip", "application/json", { "Content-Encoding: gzip" } }
MODES.big_headers = function(c)
  local filler = {}
  for i = 1, 280 do filler[i] = format("X-Filler-%d: %s", i, rep("f", 1000)) end
  answer(c, 200, '{"data":' .. customer(1) .. "}", "application/json", filler)
end
MODES.body_50mb_json = function(c, _, _, kind)
  local entity = huge_customer(kind == "list2" and 3 or 1, 50 * 1000 * 1000)
  if kind == "list2" then
    return answer(c, 200, '{"data":[' .. entity .. '],"meta":{"request_id":"badserver","pagination":'
      .. '{"per_page":2,"next":null,"has_more":false}}}')
  end
  answer(c, 200, '{"data":' .. entity .. ',"meta":{"request_id":"badserver"}}')
end
-- The first page's next names another origin, as Paddle's own next URLs do
-- for a client pointed at a proxy (base_url with a path): the client must
-- send that path and query to its base_url.
MODES.next_elsewhere = { per_kind = {
  list1 = function(c, _, _, _, mode)
    local body = list_page(mode, { customer(1), customer(2) }, customer_id(2))
      :gsub('"next":"[^"]*/customers%?', '"next":"' .. ELSEWHERE .. '/customers?')
    answer(c, 200, body)
  end,
} }
-- A cache that ignores the query: the second page is the first again.
MODES.stale_cache = { per_kind = {
  list2 = function(c, _, _, _, mode)
    answer(c, 200, list_page(mode, { customer(1), customer(2) }, customer_id(2)))
  end,
} }
-- The second page's next goes back to the first: a walk that never ends.
MODES.cycle = { per_kind = {
  list2 = function(c, _, _, _, mode)
    local body = list_page(mode, { customer(3) }, customer_id(0))
      :gsub("%?after=ctm_0+&per_page=2", "?per_page=2")
    answer(c, 200, body)
  end,
} }

for _, status in ipairs { 302, 307 } do
  MODES["redirect_" .. status] = function(c, path, query)
    answer(c, status, "Moved", "text/plain",
      { "Location: " .. ELSEWHERE .. path .. (query ~= "" and "?" .. query or "") })
  end
end

---------------------------------------------------------------- log
local log = {}

local function json_string(s)
  return '"' .. s:gsub('[%c"\\]', function(ch) return format("\\u%04x", ch:byte()) end) .. '"'
end

local function log_json()
  local out = {}
  for i, e in ipairs(log) do
    out[i] = format('{"port":%s,"mode":%s,"kind":%s,"method":%s,"path":%s,"query":%s,"auth":%s}',
      json_string(e.port), json_string(e.mode), json_string(e.kind), json_string(e.method),
      json_string(e.path), json_string(e.query), tostring(e.auth))
  end
  return '{"data":[' .. concat(out, ",") .. "]}"
end

local function kind_of(method, rest, query)
  if rest == "/customers" then
    if method == "POST" then return "create" end
    return query:find("after=", 1, true) and "list2" or "list1"
  end
  if rest:match("^/customers/ctm_[%w]+$") then return "get" end
  return "other"
end

local function handle(c, port)
  local method, target, headers = read_request(c)
  if not method then return c:close() end
  local path, query = target:match("^([^?]*)%??(.*)$")
  if path == "/__log" then return answer(c, 200, log_json()) end
  local mode, rest = path:match("^/([%w_]+)(/.*)$")
  local kind = kind_of(method, rest or path, query)
  log[#log + 1] = { port = port, mode = mode or "", kind = kind, method = method, path = path,
    query = query, auth = headers.authorization ~= nil }
  local behaviour = MODES[mode]
  if port ~= "api" or behaviour == nil or kind == "other" then
    return answer(c, 404, '{"error":{"type":"request_error","code":"not_found","detail":"nothing here"}}')
  end
  if type(behaviour) == "table" and behaviour.per_kind then behaviour = behaviour.per_kind[kind] or false
  elseif kind == "list1" then behaviour = false end
  if behaviour == false then return answer(c, good(mode, kind, query)) end
  if type(behaviour) == "function" then return behaviour(c, path, query, kind, mode) end
  return answer(c, behaviour[1], behaviour[2], behaviour[3], behaviour[4])
end

---------------------------------------------------------------- main loop
local function watched_alive()
  local f = io_open("/proc/" .. WATCHED .. "/stat", "rb")
  if not f then return false end
  local state = (f:read("*a") or ""):match("^%d+ %b() (%a)")
  f:close()
  return state ~= nil and state ~= "Z" and state ~= "X"
end

io.stdout:write(format("badserver listening on %d elsewhere %d\n", api_port, elsewhere_port))
io.stdout:flush()

local listeners = { [api] = "api", [elsewhere] = "elsewhere" }
local next_watch = 0
while true do
  local now = socket.gettime()
  if now >= next_watch then
    if not watched_alive() then os.exit(0) end
    next_watch = now + 0.5
  end
  local rlist, wlist = { api, elsewhere }, {}
  for s in pairs(reading) do rlist[#rlist + 1] = s end
  for s in pairs(writing) do wlist[#wlist + 1] = s end
  local timeout = 0.5
  for _, t in ipairs(sleeping) do
    if t.at - now < timeout then timeout = t.at - now end
  end
  local r, w = socket.select(rlist, wlist, timeout > 0 and timeout or 0)
  for _, s in ipairs(w) do
    local co = writing[s]
    writing[s] = nil
    if co then resume(co) end
  end
  for _, s in ipairs(r) do
    local port = listeners[s]
    if port then
      local c = s:accept()
      if c then
        c:settimeout(0)
        resume(coroutine_create(function() handle(c, port) end))
      end
    else
      local co = reading[s]
      reading[s] = nil
      if co then resume(co) end
    end
  end
  now = socket.gettime()
  local due, later = {}, {}
  for _, t in ipairs(sleeping) do
    if t.at <= now then due[#due + 1] = t.co else later[#later + 1] = t end
  end
  sleeping = later
  for _, co in ipairs(due) do resume(co) end
end
