-- examples/webhook_handler.lua: receive Paddle webhooks in OpenResty.
--
--   location = /paddle/webhook {
--       content_by_lua_block { require("webhook_handler").handle() }
--   }
--
-- Reads the raw body (from memory, or from the temp file nginx buffered a big
-- body to), verifies Paddle-Signature, stores the event durably and only then
-- answers 200. Paddle never redelivers an event once it got a 2xx: an event
-- acknowledged before it is stored is lost if storing fails. So a failure to
-- store answers 500, and Paddle retries the delivery later. A retried
-- delivery of an event already stored is acknowledged and dropped
-- (lua_shared_dict, shared by all workers).
--
-- The store here appends each event as one JSON line to a spool file and
-- fsyncs it; a consumer of yours works through that file. Replace _M.store
-- with an insert into your database or a push to your queue: anything that
-- has the event safely before it returns true. A consumer still skips event
-- ids it has seen: the shared dict forgets them when nginx restarts.
--
-- The secret comes from the nginx variable $paddle_webhook_secret when set,
-- else from the PADDLE_WEBHOOK_SECRET environment variable (which needs
-- `env PADDLE_WEBHOOK_SECRET;` in nginx.conf). Several secrets, comma
-- separated, are all accepted while a secret is being rotated.
-- See examples/webhook-openresty.conf and docs/webhooks.md.
local webhooks = require "paddle.webhooks"
local cjson = require "cjson.safe"

local ngx = ngx
local io_open = io.open
local getenv = os.getenv
local ipairs = ipairs
local pcall = pcall
local tostring = tostring

local _M = {
  shared_dict = "paddle_webhooks", -- lua_shared_dict holding claimed event ids
  ttl = 3 * 86400,                 -- how long an event id is remembered
  tolerance = webhooks.DEFAULT_TOLERANCE,
  spool_file = nil,                -- default: paddle-events.jsonl in nginx's prefix
}

-- Appends text to a file and fsyncs it (LuaJIT's FFI, Linux flag values):
-- once this returns true the line survives nginx, the kernel and a power cut.
-- It blocks the worker for the fsync, which a webhook's rate allows.
local ffi = require "ffi"
for _, declaration in ipairs {    -- one by one: another module may have declared some already
  "int open(const char *path, int flags, ...);",
  "ssize_t write(int fd, const void *buf, size_t n);",
  "int fsync(int fd);",
  "int close(int fd);",
  "char *strerror(int errnum);",
} do pcall(ffi.cdef, declaration) end
local O_WRONLY, O_CREAT, O_APPEND = 1, 64, 1024
local MODE_0600 = ffi.cast("int", 384) -- an int, not the double a Lua number becomes in "..."

local function append_durably(path, text)
  local fd = ffi.C.open(path, O_WRONLY + O_CREAT + O_APPEND, MODE_0600)
  if fd < 0 then return nil, "open " .. path .. ": " .. ffi.string(ffi.C.strerror(ffi.errno())) end
  local written = ffi.C.write(fd, text, #text) -- one write: appends from workers never interleave
  local synced = written == #text and ffi.C.fsync(fd) == 0
  local reason = not synced and (written >= 0 and written < #text and "short write" -- a torn line:
    or ffi.string(ffi.C.strerror(ffi.errno())))                                   -- readers skip it
  ffi.C.close(fd)
  if not synced then return nil, "write " .. path .. ": " .. reason end
  return true
end

-- Stores one verified event; true, or nil and a message. Replace it with your
-- database insert or queue push (it must not return before the event is safe).
function _M.store(event)
  local line, err = cjson.encode(event) -- one line: cjson escapes newlines inside strings
  if not line then return nil, err end
  return append_durably(_M.spool_file or (ngx.config.prefix() .. "paddle-events.jsonl"), line .. "\n")
end

local seen -- the deduper, made at first use (ngx.shared exists by then)

local function deduper()
  if not seen then
    seen = webhooks.deduper { shared_dict = _M.shared_dict, ttl = _M.ttl }
  end
  return seen
end

local function secrets()
  local value = ngx.var.paddle_webhook_secret -- nil when not declared
  if value == nil or value == "" then value = getenv("PADDLE_WEBHOOK_SECRET") end
  if value == nil then return nil end
  local list = {}
  for s in value:gmatch("[^,%s]+") do list[#list + 1] = s end
  if #list == 0 then return nil end
  return list
end

-- The exact bytes Paddle sent, even when nginx buffered them to a file
-- (bodies larger than client_body_buffer_size).
local function read_body()
  ngx.req.read_body()
  local body = ngx.req.get_body_data()
  if body then return body end
  local path = ngx.req.get_body_file()
  if not path then return "" end -- no body at all
  local f, err = io_open(path, "rb")
  if not f then return nil, err end
  body, err = f:read("*a")
  f:close()
  return body, err
end

local function respond(status, message)
  ngx.status = status -- luacheck: ignore 122 (ngx fields are writable)
  ngx.header["Content-Type"] = "application/json" -- luacheck: ignore 122
  ngx.say(cjson.encode { ok = status == ngx.HTTP_OK, message = message })
  return ngx.exit(status)
end

function _M.handle()
  if ngx.req.get_method() ~= "POST" then
    ngx.header["Allow"] = "POST" -- luacheck: ignore 122
    return respond(ngx.HTTP_NOT_ALLOWED, "POST only")
  end
  local keys = secrets()
  if not keys then
    ngx.log(ngx.ERR, "paddle webhook: no secret in $paddle_webhook_secret or PADDLE_WEBHOOK_SECRET")
    return respond(ngx.HTTP_INTERNAL_SERVER_ERROR, "not configured")
  end
  local body, rerr = read_body()
  if not body then
    ngx.log(ngx.ERR, "paddle webhook: cannot read the buffered body: ", tostring(rerr))
    return respond(ngx.HTTP_INTERNAL_SERVER_ERROR, "cannot read body")
  end

  -- A repeated header comes back as a table: verify reports it as malformed.
  local header = ngx.req.get_headers()[webhooks.SIGNATURE_HEADER]
  local event, err = webhooks.parse(body, header, keys, { tolerance = _M.tolerance })
  if not event then
    -- err carries a code and a detail, never the secret.
    ngx.log(ngx.WARN, "paddle webhook rejected: ", tostring(err))
    return respond(ngx.HTTP_BAD_REQUEST, err.code)
  end

  local first, derr = deduper():claim(event.event_id)
  if first == nil then -- the store failed: let Paddle retry later
    ngx.log(ngx.ERR, "paddle webhook ", event.event_id, ": ", tostring(derr))
    return respond(ngx.HTTP_INTERNAL_SERVER_ERROR, "try again")
  end
  if not first then
    ngx.log(ngx.INFO, "paddle webhook ", event.event_id, " already processed: acknowledged")
    return respond(ngx.HTTP_OK, "duplicate")
  end

  -- Acknowledge only once the event is stored: after a 2xx Paddle never
  -- sends it again, so a 200 before this point could lose it.
  local stored, serr = _M.store(event)
  if not stored then
    deduper():release(event.event_id) -- the retried delivery must be able to store it
    ngx.log(ngx.ERR, "paddle webhook ", event.event_id, " not stored: ", tostring(serr))
    return respond(ngx.HTTP_INTERNAL_SERVER_ERROR, "try again")
  end
  ngx.log(ngx.NOTICE, "paddle webhook stored ", event.event_type, " ", event.event_id)
  return respond(ngx.HTTP_OK, "accepted")
end

return _M
