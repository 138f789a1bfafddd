-- The client's options, each once: name, kind, bounds, default and the line
-- docs/client.md shows. paddle.new and paddle.configure check against this
-- table (unknown names raise, naming the closest known one); C and the
-- transports only ever receive values checked here, so no option error can
-- surface later from inside a call.
local show = require "paddle.show"

local concat = table.concat
local error = error
local format = string.format
local getenv = os.getenv
local huge = math.huge
local ipairs = ipairs
local lower = string.lower
local min = math.min
local pairs = pairs
local sort = table.sort
local sub = string.sub
local tostring = tostring
local type = type

local _M = {}

local DAY = 86400

_M.BASE_URLS = {
  production = "https://api.paddle.com",
  sandbox = "https://sandbox-api.paddle.com",
}

-- Headers the library owns: the `headers` option cannot replace them.
local RESERVED_HEADERS = {
  authorization = true, ["content-type"] = true, ["content-length"] = true,
  host = true, ["paddle-version"] = true, accept = true, ["skip-count"] = true,
  ["accept-encoding"] = true, connection = true, ["transfer-encoding"] = true,
}

-- kind: "string", "number", "integer", "boolean", "function", "enum", or a
-- custom check function(value, name) -> value (raises through bad()).
-- env: the environment variable read when the option is absent.
_M.LIST = {
  { name = "api_key", kind = "string", required = true, env = "PADDLE_API_KEY",
    doc = "Paddle API key (`pdl_live_apikey_...`, `pdl_sdbx_apikey_...` or an older key); required" },
  { name = "environment", kind = "enum", values = { "sandbox", "production" }, env = "PADDLE_ENVIRONMENT",
    doc = "`\"sandbox\"` or `\"production\"`; default: from the key's prefix, else production" },
  { name = "base_url", kind = "url", env = "PADDLE_BASE_URL",
    doc = "API root, e.g. the emulator's `http://127.0.0.1:8089`; default: the environment's URL" },
  { name = "timeout", kind = "number", min = 0.001, max = DAY, default = 60,
    doc = "seconds for the whole call: every attempt, backoff and Retry-After wait together" },
  { name = "attempt_timeout", kind = "number", min = 0.001, max = DAY, default = 30,
    doc = "seconds one attempt may take (never more than what is left of `timeout`)" },
  { name = "connect_timeout", kind = "number", min = 0.001, max = DAY, default = 10,
    doc = "seconds to connect, TLS included (never more than what is left of `timeout`)" },
  { name = "max_retries", kind = "integer", min = 0, max = 100, default = 3,
    doc = "retries after the first attempt (only where a retry is safe)" },
  { name = "max_retry_wait", kind = "number", min = 0, max = DAY, default = 60,
    doc = "longest single wait (s) a retry or a 429 block may cost before the call gives up" },
  { name = "backoff_base", kind = "number", min = 0, max = 60, default = 0.5,
    doc = "first backoff ceiling (s); doubles per attempt, full jitter" },
  { name = "rate_limit", kind = "rate_limit", default = { requests = 240, per = 60 },
    doc = "`{ requests = N, per = S }` pacing window, or `false`; default Paddle's 240 per 60 s" },
  { name = "limiter", kind = "limiter",
    doc = "share pacing and the 429 block: `\"file:PATH\"`, `\"redis://host:port\"` or `\"ngx:DICT\"`" },
  { name = "shared_dict", kind = "string",
    doc = "OpenResty: same as `limiter = \"ngx:NAME\"`" },
  { name = "ca_file", kind = "string",
    doc = "CA bundle (default: CURL_CA_BUNDLE, SSL_CERT_FILE, else the system's)" },
  { name = "ca_path", kind = "string", doc = "CA directory (default: SSL_CERT_DIR, else the system's)" },
  { name = "proxy", kind = "string", doc = "libcurl proxy URL (curl transport only)" },
  { name = "headers", kind = "headers", default = {},
    doc = "extra request headers `{ name = value }`; a User-Agent given here replaces ours" },
  { name = "on_request", kind = "function",
    doc = "called after every attempt with `{ method, url, attempt, status, error, request_id, ... }`" },
  { name = "on_warning", kind = "function",
    doc = "called with a message when something degrades (a shared limiter falls back); "
      .. "default: stderr, or ngx.log under OpenResty" },
  { name = "transport", kind = "enum", values = { "curl", "ngx" },
    doc = "`\"curl\"` or `\"ngx\"` (cosockets); default: ngx where cosockets work, else curl" },
  { name = "keep_null", kind = "boolean", default = false,
    doc = "JSON null in answers reads as `paddle.null` instead of nil" },
}

local BY_NAME = {}
for _, o in ipairs(_M.LIST) do BY_NAME[o.name] = o end
_M.BY_NAME = BY_NAME

-- Raised without a position: the public function re-raises at its caller.
local function bad(who, name, want, got)
  error(format("%s: option '%s' must be %s%s", who, name, want, got and (", got " .. got) or ""), 0)
end

local function shown(v) return show.value(v, 40) end

-- Levenshtein distance, for "did you mean" on misspelt option names.
local function distance(a, b)
  local prev = {}
  for j = 0, #b do prev[j] = j end
  for i = 1, #a do
    local cur = { [0] = i }
    local ca = sub(a, i, i)
    for j = 1, #b do
      local cost = ca == sub(b, j, j) and 0 or 1
      cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
    end
    prev = cur
  end
  return prev[#b]
end

local function closest(name)
  local best, best_d = nil, huge
  local lname = lower(name)
  for _, o in ipairs(_M.LIST) do
    local d = distance(lname, o.name)
    if d < best_d then best, best_d = o.name, d end
  end
  return best
end

local function check_unknown(who, opts)
  for k in pairs(opts) do
    if type(k) ~= "string" then error(who .. ": option names must be strings, got a " .. type(k), 0) end
    if not BY_NAME[k] then
      error(format("%s: unknown option '%s' (did you mean '%s'?)", who, k, closest(k)), 0)
    end
  end
end

local function has_control(s) return s:find("%c") ~= nil end

local function check_url(who, name, v)
  if type(v) ~= "string" or not v:match("^[hH][tT][tT][pP][sS]?://[^/?#%s]+[^?#%s]*$") or has_control(v) then
    bad(who, name, "an http(s) URL without query or fragment", shown(v))
  end
  if v:match("^%a+://[^/]*@") then
    bad(who, name, "a URL without credentials (user:password@): the API key is the credential")
  end
  return (v:gsub("/+$", ""))
end

local function check_rate_limit(who, name, v)
  if v == false then return false end
  if type(v) ~= "table" then bad(who, name, "false or { requests = N, per = seconds }", shown(v)) end
  for k in pairs(v) do
    if k ~= "requests" and k ~= "per" then
      bad(who, name, "a table with only 'requests' and 'per'", "a key " .. shown(k))
    end
  end
  local n, per = v.requests, v.per
  if type(n) ~= "number" or n % 1 ~= 0 or n < 1 or n > 100000 then
    bad(who, name .. ".requests", "an integer from 1 to 100000", shown(n))
  end
  if type(per) ~= "number" or not (per > 0 and per <= DAY) then
    bad(who, name .. ".per", "a number of seconds > 0 and <= 86400", shown(per))
  end
  return { requests = n, per = per }
end

local function check_limiter(who, name, v)
  if type(v) ~= "string" or not (v:match("^file:.") or v:match("^redis://.") or v:match("^ngx:.")) then
    -- never echo the value: a redis URL may hold a password
    local got = type(v) == "string" and format("a string starting %q", sub(v, 1, 6)) or "a " .. type(v)
    bad(who, name, '"file:PATH", "redis://[:password@]host:port[/db]" or "ngx:DICT"', got)
  end
  if has_control(v) then bad(who, name, "free of control characters") end
  return v
end

local function check_headers(who, name, v)
  if type(v) ~= "table" then bad(who, name, "a table of name = value strings", shown(v)) end
  local copy = {}
  for k, value in pairs(v) do
    if type(k) ~= "string" or not k:match("^[!#$%%&'*+.^_`|~%w-]+$") then
      bad(who, name, "a table whose names are HTTP header names", "a name " .. shown(k))
    end
    if type(value) ~= "string" or has_control(value) then
      bad(who, name .. "." .. k, "a string without control characters", shown(value))
    end
    if RESERVED_HEADERS[lower(k)] then bad(who, name, "free of " .. k .. " (lua-paddle sets it)") end
    copy[k] = value
  end
  return copy
end

local CUSTOM = {
  url = check_url, rate_limit = check_rate_limit, limiter = check_limiter, headers = check_headers,
}

local function check_one(who, o, v)
  local kind, name = o.kind, o.name
  if CUSTOM[kind] then return CUSTOM[kind](who, name, v) end
  if kind == "string" then
    if type(v) ~= "string" or v == "" or has_control(v) then
      bad(who, name, "a non-empty string without control characters", shown(v))
    end
  elseif kind == "enum" then
    for _, allowed in ipairs(o.values) do
      if v == allowed then return v end
    end
    bad(who, name, '"' .. concat(o.values, '" or "') .. '"', shown(v))
  elseif kind == "number" or kind == "integer" then
    local want = (kind == "integer" and "an integer" or "a number") .. " from " .. o.min .. " to " .. o.max
    if type(v) ~= "number" or not (v >= o.min and v <= o.max) or (kind == "integer" and v % 1 ~= 0) then
      bad(who, name, want, shown(v))
    end
  elseif type(v) ~= kind then
    bad(who, name, "a " .. kind, shown(v))
  end
  return v
end

local function environment_of(who, api_key, explicit)
  local prefix = sub(api_key, 1, 9)
  local from_key = (prefix == "pdl_sdbx_" and "sandbox") or (prefix == "pdl_live_" and "production") or nil
  if explicit and from_key and explicit ~= from_key then
    error(format("%s: environment %q contradicts the API key, which is a %s key", who, explicit, from_key), 0)
  end
  return explicit or from_key or "production" -- keys without a prefix predate sandbox keys
end

-- Options from the environment for those not given (empty variables ignored).
function _M.fill_from_env(opts)
  local filled = {}
  for k, v in pairs(opts) do filled[k] = v end
  for _, o in ipairs(_M.LIST) do
    if o.env and filled[o.name] == nil then
      local v = getenv(o.env)
      if v ~= nil and v ~= "" then filled[o.name] = v end
    end
  end
  return filled
end

-- check(opts, who) -> normalised copy; raises (level 0) on misuse.
-- Reads PADDLE_* variables for absent options.
function _M.check(opts, who)
  if type(opts) ~= "table" then error(who .. ": expected a table of options, got a " .. type(opts), 0) end
  check_unknown(who, opts)
  opts = _M.fill_from_env(opts)
  local o = {}
  for _, spec in ipairs(_M.LIST) do
    local v = opts[spec.name]
    if v == nil then
      if spec.required then
        bad(who, spec.name, "a non-empty string (or set " .. spec.env .. ")")
      end
      v = spec.default
    else
      v = check_one(who, spec, v)
    end
    o[spec.name] = v
  end
  if o.api_key:find("%s") then error(who .. ": option 'api_key' contains whitespace", 0) end
  o.environment = environment_of(who, o.api_key, o.environment)
  o.base_url = o.base_url or _M.BASE_URLS[o.environment]
  if opts.attempt_timeout ~= nil and o.attempt_timeout > o.timeout then
    bad(who, "attempt_timeout", "<= timeout (" .. o.timeout .. ")", shown(o.attempt_timeout))
  end
  if opts.connect_timeout ~= nil and o.connect_timeout > o.timeout then
    bad(who, "connect_timeout", "<= timeout (" .. o.timeout .. ")", shown(o.connect_timeout))
  end
  o.attempt_timeout = min(o.attempt_timeout, o.timeout)
  o.connect_timeout = min(o.connect_timeout, o.attempt_timeout)
  if o.shared_dict then
    if o.limiter then error(who .. ": give either 'limiter' or 'shared_dict', not both", 0) end
    o.limiter = "ngx:" .. o.shared_dict
  end
  o.shared_dict = nil
  if not o.ca_file and not o.ca_path then -- the variables curl and OpenSSL users expect
    local file, dir = getenv("CURL_CA_BUNDLE") or getenv("SSL_CERT_FILE"), getenv("SSL_CERT_DIR")
    if file ~= "" then o.ca_file = file end
    if dir ~= "" then o.ca_path = dir end
  end
  return o
end

local function shown_default(o)
  local d = o.default
  if d == nil then return o.env and ("env `" .. o.env .. "`") or "-" end
  if type(d) == "table" then
    if d.requests then return format("`{ requests = %d, per = %d }`", d.requests, d.per) end
    return "`{}`"
  end
  return "`" .. tostring(d) .. "`"
end

-- The option table of docs/client.md, made from LIST (a spec checks that the
-- docs hold exactly this text, so the two cannot drift apart).
function _M.markdown()
  local rows = { "| option | default | meaning |", "|---|---|---|" }
  for _, o in ipairs(_M.LIST) do
    rows[#rows + 1] = format("| `%s` | %s | %s |", o.name, shown_default(o), o.doc)
  end
  return concat(rows, "\n") .. "\n"
end

-- The names in the order docs/client.md lists them.
function _M.names()
  local names = {}
  for i, o in ipairs(_M.LIST) do names[i] = o.name end
  return names
end

-- Sorted, for messages.
function _M.sorted_names()
  local names = _M.names()
  sort(names)
  return names
end

return _M
