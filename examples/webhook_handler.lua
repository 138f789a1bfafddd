-- examples/webhook_handler.lua: receive Paddle webhooks in OpenResty.
--
--   location = /paddle/webhook {
--       content_by_lua_block { require("webhook_handler").handle() }
--   }
--
-- Reads the raw body (from memory, or from the temp file nginx buffered a big
-- body to), verifies Paddle-Signature, answers 200 at once and processes the
-- event in a timer, once: a retried delivery of an event already claimed is
-- acknowledged and dropped (lua_shared_dict, shared by all workers).
--
-- The secret comes from the nginx variable $paddle_webhook_secret when set,
-- else from the PADDLE_WEBHOOK_SECRET environment variable (which needs
-- `env PADDLE_WEBHOOK_SECRET;` in nginx.conf). Several secrets, comma
-- separated, are all accepted while a secret is being rotated.
-- See examples/webhook-openresty.conf and README-webhooks.md.
local webhooks = require "paddle.webhooks"
local cjson = require "cjson.safe"

local ngx = ngx
local io_open = io.open
local getenv = os.getenv
local pcall = pcall
local tostring = tostring

local _M = {
  shared_dict = "paddle_webhooks", -- lua_shared_dict holding claimed event ids
  ttl = 3 * 86400,                 -- how long an event id is remembered
  tolerance = webhooks.DEFAULT_TOLERANCE,
}

-- What to do per event type. They run in a timer after Paddle got its 200:
-- an error releases the event id, so that a later delivery is processed.
_M.handlers = {
  ["customer.created"] = function(event)
    ngx.log(ngx.NOTICE, "new customer ", event.data.id)
  end,
  ["customer.updated"] = function(event)
    ngx.log(ngx.NOTICE, "customer updated ", event.data.id)
  end,
}

function _M.default_handler(event)
  ngx.log(ngx.INFO, "paddle webhook ", event.event_type, " not handled")
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

local function process(premature, event)
  local id = event.event_id
  if premature then -- the worker is exiting before the timer ran
    deduper():release(id)
    ngx.log(ngx.WARN, "paddle webhook ", id, " not processed: nginx is exiting")
    return
  end
  local handler = _M.handlers[event.event_type] or _M.default_handler
  local ok, err = pcall(handler, event)
  if ok then
    ngx.log(ngx.NOTICE, "paddle webhook processed ", event.event_type, " ", id)
  else
    deduper():release(id)
    ngx.log(ngx.ERR, "paddle webhook ", event.event_type, " ", id, " failed: ", tostring(err))
  end
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

  local ok, terr = ngx.timer.at(0, process, event)
  if not ok then
    deduper():release(event.event_id)
    ngx.log(ngx.ERR, "paddle webhook ", event.event_id, ": cannot start a timer: ", terr)
    return respond(ngx.HTTP_INTERNAL_SERVER_ERROR, "try again")
  end
  return respond(ngx.HTTP_OK, "accepted")
end

return _M
