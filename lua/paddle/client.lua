-- A Paddle client: options, the request loop and error values.
--
-- The policy (which failures to retry, how long to back off, pacing and the
-- 429 block) is the C session's; this loop only asks it and sleeps. The loop
-- is in Lua because cosockets cannot yield across a C call.
local core = require "paddle.core"
local errors = require "paddle.errors"
local json = require "paddle.json"
local url = require "paddle.url"

local error = error
local format = string.format
local getenv = os.getenv
local pairs = pairs
local require = require
local pcall = pcall
local setmetatable = setmetatable
local sub = string.sub
local tostring = tostring
local type = type
local ngx = ngx -- luacheck: ignore (nil outside OpenResty)

local _M = {}

_M.BASE_URLS = {
  production = "https://api.paddle.com",
  sandbox = "https://sandbox-api.paddle.com",
}

local METHODS = { GET = true, POST = true, PATCH = true, PUT = true, DELETE = true }

-- Headers the library owns: a user's `headers` option cannot replace them.
local RESERVED_HEADERS = {
  authorization = true, ["content-type"] = true, ["content-length"] = true,
  host = true, ["paddle-version"] = true, accept = true,
}

local function is_integer(v)
  return type(v) == "number" and v % 1 == 0
end

-- Option checks raise without a position; new() re-raises at its caller.
local function option_error(name, want)
  error("paddle.new: option '" .. name .. "' must be " .. want, 0)
end

local function check_number(opts, name, default, min)
  local v = opts[name]
  if v == nil then return default end
  if type(v) ~= "number" or v ~= v or v < min then
    option_error(name, "a number >= " .. min)
  end
  return v
end

local function check_string(opts, name)
  local v = opts[name]
  if v ~= nil and (type(v) ~= "string" or v == "") then option_error(name, "a non-empty string") end
  return v
end

local function environment_of(api_key, explicit)
  if explicit ~= nil and explicit ~= "sandbox" and explicit ~= "production" then
    option_error("environment", '"sandbox" or "production"')
  end
  local from_key = (sub(api_key, 1, 9) == "pdl_sdbx_" and "sandbox")
    or (sub(api_key, 1, 9) == "pdl_live_" and "production") or nil
  if explicit and from_key and explicit ~= from_key then
    error(format("paddle.new: environment %q contradicts the API key, which is a %s key",
      explicit, from_key), 0)
  end
  return explicit or from_key or "production" -- keys without a prefix predate sandbox keys
end

local function check_base_url(v)
  if v == nil then return nil end
  if type(v) ~= "string" or not v:match("^[hH][tT][tT][pP][sS]?://[^/?#%s]+[^?#%s]*$") then
    option_error("base_url", "an http(s) URL without query or fragment")
  end
  return (v:gsub("/+$", ""))
end

local function check_rate_limit(v)
  if v == false then return nil end
  if v == nil then return { requests = 240, per = 60 } end -- Paddle's documented limit
  if type(v) ~= "table" or not is_integer(v.requests) or v.requests < 1
    or type(v.per) ~= "number" or v.per ~= v.per or v.per <= 0 then
    option_error("rate_limit", "false or { requests = <integer >= 1>, per = <seconds > 0> }")
  end
  return { requests = v.requests, per = v.per }
end

local function check_headers(v)
  if v == nil then return {} end
  if type(v) ~= "table" then option_error("headers", "a table of name = value strings") end
  local copy = {}
  for name, value in pairs(v) do
    if type(name) ~= "string" or type(value) ~= "string" or name:find("[%c:%s]") or value:find("%c") then
      option_error("headers", "a table of name = value strings without control characters")
    end
    if RESERVED_HEADERS[name:lower()] then
      option_error("headers", "free of " .. name .. " (lua-paddle sets it)")
    end
    copy[name] = value
  end
  return copy
end

-- The limiter store; `shared_dict = NAME` is the older spelling of "ngx:NAME".
local function check_limiter(opts)
  local spec, dict = check_string(opts, "limiter"), check_string(opts, "shared_dict")
  if spec and dict then
    error("paddle.new: give either 'limiter' or 'shared_dict' (its alias), not both", 0)
  end
  return spec or (dict and "ngx:" .. dict)
end

-- Normalised options; raises on misuse. The key is handed to C and dropped.
function _M.check_options(opts)
  if type(opts) ~= "table" then error("paddle.new: expected a table of options", 0) end
  local api_key = opts.api_key
  if type(api_key) ~= "string" or api_key == "" then
    error("paddle.new: option 'api_key' must be a non-empty string", 0)
  end
  if api_key:find("[%c%s]") then
    error("paddle.new: option 'api_key' contains whitespace or control characters", 0)
  end
  local environment = environment_of(api_key, opts.environment)
  local transport = opts.transport
  if transport ~= nil and transport ~= "curl" and transport ~= "ngx" then
    option_error("transport", '"curl" or "ngx"')
  end
  if opts.on_request ~= nil and type(opts.on_request) ~= "function" then
    option_error("on_request", "a function")
  end
  local max_retries = check_number(opts, "max_retries", 3, 0)
  if not is_integer(max_retries) then option_error("max_retries", "an integer >= 0") end
  local ca_file = check_string(opts, "ca_file")
  local ca_path = check_string(opts, "ca_path")
  if not ca_file and not ca_path then -- the variables curl and OpenSSL users expect
    ca_file = getenv("CURL_CA_BUNDLE") or getenv("SSL_CERT_FILE")
    ca_path = getenv("SSL_CERT_DIR")
    if ca_file == "" then ca_file = nil end
    if ca_path == "" then ca_path = nil end
  end
  return {
    api_key = api_key,
    environment = environment,
    base_url = check_base_url(opts.base_url) or _M.BASE_URLS[environment],
    timeout = check_number(opts, "timeout", 60, 0.001),
    connect_timeout = check_number(opts, "connect_timeout", 10, 0.001),
    max_retries = max_retries,
    max_retry_wait = check_number(opts, "max_retry_wait", 60, 0),
    backoff_base = check_number(opts, "backoff_base", 0.5, 0),
    rate_limit = check_rate_limit(opts.rate_limit),
    ca_file = ca_file,
    ca_path = ca_path,
    proxy = check_string(opts, "proxy"),
    headers = check_headers(opts.headers),
    on_request = opts.on_request,
    transport = transport,
    limiter = check_limiter(opts),
  }
end

-- True inside an nginx phase where cosockets work.
local function cosockets_available()
  return ngx ~= nil and require("paddle.ngx.http").available()
end

local function user_agent(transport_name, transport_version)
  local lua = type(jit) == "table" and jit.version or core.lua_version -- luacheck: ignore jit
  return format("lua-paddle/%s (%s; %s %s)", core._VERSION, lua, transport_name == "ngx" and "ngx_lua"
    or "libcurl", transport_version or "?")
end

-- A short, printable excerpt of a body that was not the JSON we expected.
local function snippet(body)
  local s = sub(body or "", 1, 120):gsub("[%c]+", " ")
  if #(body or "") > 120 then s = s .. "..." end
  return s
end

local function error_from_response(res, attempts, retry_after)
  local request_id = res.headers["request-id"]
  local decoded = res.body ~= "" and json.decode(res.body) or nil
  local e = type(decoded) == "table" and decoded.error
  if type(e) == "table" then
    local meta = type(decoded.meta) == "table" and decoded.meta or {}
    return errors.new {
      type = e.type, code = e.code, detail = e.detail, documentation_url = e.documentation_url,
      errors = type(e.errors) == "table" and e.errors or nil, status = res.status,
      request_id = type(meta.request_id) == "string" and meta.request_id or request_id,
      retry_after = retry_after, attempts = attempts,
    }
  end
  return errors.new {
    type = "decode_error", code = "invalid_response", status = res.status,
    detail = "HTTP " .. res.status .. " with a non-JSON body: " .. snippet(res.body),
    request_id = request_id, retry_after = retry_after, attempts = attempts,
  }
end

local function result_from_response(res, attempts)
  if res.body == "" then return true, { request_id = res.headers["request-id"] } end
  local decoded, err = json.decode(res.body)
  if type(decoded) ~= "table" then
    return nil, errors.new {
      type = "decode_error", code = "invalid_response", status = res.status,
      detail = "HTTP " .. res.status .. " body is not JSON (" .. tostring(err) .. "): " .. snippet(res.body),
      request_id = res.headers["request-id"], attempts = attempts,
    }
  end
  if decoded.data == nil then return decoded, nil end
  return decoded.data, decoded.meta
end

-- new(opts) -> client with client.request(method, path, { query, body })
function _M.new(opts)
  local valid, o = pcall(_M.check_options, opts)
  if not valid then error(o, 2) end
  -- With a limiter the window lives in its store; the session keeps the key,
  -- the retry policy and this client's view of the 429 block.
  local own_window = o.rate_limit and not o.limiter
  local session = core.session {
    api_key = o.api_key,
    max_retries = o.max_retries,
    max_retry_wait = o.max_retry_wait,
    backoff_base = o.backoff_base,
    rate_requests = own_window and o.rate_limit.requests or 0,
    rate_per = own_window and o.rate_limit.per or 0,
  }
  o.api_key = nil
  -- One clock per client so pacing stays consistent across transports.
  local now = ngx and function() ngx.update_time(); return ngx.now() end or core.monotonic
  local limiter
  if o.limiter then
    local warn = ngx and function(msg) ngx.log(ngx.WARN, msg) end
      or function(msg) io.stderr:write(msg, "\n") end
    local ok, made = pcall(require("paddle.limiter").new, o.limiter, o.rate_limit, session,
      { warn = warn, now = now })
    if not ok then
      error("paddle.new: option 'limiter': " .. tostring(made):gsub("^paddle%.limiter: ", ""), 2)
    end
    limiter = made
  end
  local function acquire(t)
    if limiter then return limiter:acquire(t) end
    return session:acquire(t)
  end
  local base_url, origin = o.base_url, url.origin(o.base_url)
  local on_request = o.on_request
  local transports = {}

  local function transport_for_this_call()
    local name = o.transport or (cosockets_available() and "ngx" or "curl")
    local t = transports[name]
    if not t then
      local module = require(name == "ngx" and "paddle.ngx.transport" or "paddle.transport_curl")
      t = module.new(o)
      t.user_agent = user_agent(name, module.version)
      transports[name] = t
    end
    return t
  end

  local client = {
    environment = o.environment,
    base_url = base_url,
  }

  -- Request checks raise without a position; perform() re-raises at its caller.
  local function target_url(path, query)
    local full
    if type(path) ~= "string" then error("request: path must be a string", 0) end
    if path:find("[%s%c]") then error("request: path contains whitespace or control characters", 0) end
    if sub(path, 1, 1) == "/" then
      full = base_url .. path
    elseif url.origin(path) then
      -- Absolute URLs (pagination's `next`) must point at our own API: the
      -- key is never sent anywhere else.
      if url.origin(path) ~= origin then
        error("request: URL " .. path .. " is not on " .. base_url, 0)
      end
      full = path
    else
      error("request: path must start with '/'", 0)
    end
    if query ~= nil then
      if type(query) ~= "table" then error("request: query must be a table", 0) end
      local qs = url.encode_query(query)
      if qs ~= "" then full = full .. (full:find("?", 1, true) and "&" or "?") .. qs end
    end
    return full
  end

  local function prepare(method, path, params)
    if type(method) ~= "string" or not METHODS[method] then
      error("request: method must be one of GET, POST, PATCH, PUT, DELETE", 0)
    end
    if params ~= nil and type(params) ~= "table" then error("request: options must be a table", 0) end
    params = params or {}
    local full = target_url(path, params.query)
    local body
    if params.body ~= nil then
      local encode_err
      body, encode_err = json.encode(params.body)
      if not body then error("request: " .. encode_err, 0) end
    end
    return full, body
  end

  local function perform(method, path, params)
    local ok, full, body = pcall(prepare, method, path, params)
    if not ok then error(full, 2) end

    local t = transport_for_this_call()
    local headers = {
      ["Accept"] = "application/json",
      ["Paddle-Version"] = "1",
      ["User-Agent"] = t.user_agent,
    }
    for name, value in pairs(o.headers) do
      if name:lower() == "user-agent" then headers["User-Agent"] = nil end -- one User-Agent line
      headers[name] = value
    end
    if body then headers["Content-Type"] = "application/json" end

    local attempt = 0
    while true do
      local wait, why = acquire(now())
      if wait > 0 then
        if why == "blocked" and wait > o.max_retry_wait then
          return nil, errors.new {
            type = "request_error", code = "too_many_requests", status = 429,
            detail = format("still blocked by Paddle after an earlier 429 for %.0f s", wait),
            retry_after = wait, attempts = attempt,
          }
        end
        t.sleep(wait)
      else
        attempt = attempt + 1
        local started = now()
        local res, failure = t.send(session, method, full, headers, body)
        local retry_after = res and res.headers["retry-after"]
        local action, delay = session:decide(method, attempt, res and res.status,
          failure and failure.code, failure and failure.sent, retry_after, now())
        if limiter and res and res.status == 429 then
          local left = session:blocked_until() - now()
          if left > 0 then limiter:share_block(left) end
        end
        if on_request then
          on_request {
            method = method, url = full, attempt = attempt, transport = t.name,
            status = res and res.status, error = failure and failure.code,
            request_id = res and res.headers["request-id"], duration = now() - started,
            retry_in = action == "retry" and delay or nil,
          }
        end
        if action == "retry" then
          t.sleep(delay)
        elseif failure then
          return nil, errors.new {
            type = "transport_error", code = failure.code, detail = failure.detail,
            attempts = attempt,
          }
        elseif res.status >= 200 and res.status < 300 then
          return result_from_response(res, attempt)
        else
          return nil, error_from_response(res, attempt,
            action == "give_up" and delay or (retry_after and core.retry_after(retry_after)))
        end
      end
    end
  end

  client.request = perform

  -- Frees the connection and wipes the key; the client is unusable after.
  function client.close()
    for _, t in pairs(transports) do t.close() end
    if limiter then limiter:close() end
    session:close()
  end

  return setmetatable(client, {
    __name = "paddle.Client",
    __tostring = function()
      return format("paddle.Client (%s, %s, key redacted)", o.environment, base_url)
    end,
    __metatable = false,
  })
end

return _M
