-- lua-paddle: Paddle Billing customers from Lua 5.4 and OpenResty.
local core = require "paddle.core"
local client = require "paddle.client"
local json = require "paddle.json"
local resources = require "paddle.resources"

local error = error
local getenv = os.getenv
local pairs = pairs
local pcall = pcall
local require = require
local rawset = rawset
local setmetatable = setmetatable
local type = type

local _M = {
  _VERSION = core._VERSION,
  core = core,
  null = json.null,    -- send JSON null: clears a field in a PATCH
  array = json.array,  -- mark a table as a JSON array even when empty
}

-- Creates a client with resources; a bad option raises at `level` (as error's).
local function make(opts, who, level)
  local ok, c = pcall(client.new, opts, who)
  if not ok then error(c, level + 1) end
  return resources.attach(c)
end

-- paddle.new{ api_key = ..., ... } -> client with client.customers, ...
-- Absent options come from PADDLE_API_KEY, PADDLE_ENVIRONMENT and
-- PADDLE_BASE_URL (see docs/client.md). A bad option raises at the caller's line.
function _M.new(opts)
  local c = make(opts, "paddle.new", 2) -- not a tail call: level 2 must be our caller
  return c
end

---------------------------------------------------------------------------
-- The default client behind paddle.customers, paddle.addresses, ...
---------------------------------------------------------------------------

local default_client

-- paddle.configure{ <any paddle.new option> } -> the default client.
function _M.configure(opts)
  local c = make(opts, "paddle.configure", 2) -- not a tail call
  default_client = c
  return c
end

-- The default client, made from the environment on first use when
-- paddle.configure was not called. Raises at `level` (as error's) when
-- there is no key or an environment variable is wrong.
local function get_default(level)
  if default_client then return default_client end
  local key = getenv("PADDLE_API_KEY")
  if key == nil or key == "" then
    error("paddle: no default client: set PADDLE_API_KEY or call paddle.configure{ api_key = ... }",
      level)
  end
  default_client = make({}, "paddle (from PADDLE_* environment variables)", level)
  return default_client
end

-- paddle.default_client() -> the client behind paddle.customers & co.
function _M.default_client()
  return get_default(2)
end

-- paddle.customers.get(id) == paddle.default_client().customers.get(id)
-- The default client is looked up on each call (configure may replace it).
for ns_name, names in pairs(resources.names()) do
  local namespace = {}
  for _, fn_name in pairs(names) do
    namespace[fn_name] = function(...)
      if (...) == namespace then
        error("paddle." .. ns_name .. "." .. fn_name .. ": call it with a dot, not a colon", 2)
      end
      -- a tail call: errors raised at level 2 still name the caller's line
      return get_default(3)[ns_name][fn_name](...)
    end
  end
  _M[ns_name] = namespace
end

---------------------------------------------------------------------------

-- Versions of everything a bug report needs. libcurl is only reported when
-- the curl transport can be loaded (OpenResty may run without it).
function _M.versions()
  local v = {
    ["lua-paddle"] = core._VERSION,
    lua = type(jit) == "table" and jit.version or core.lua_version, -- luacheck: ignore jit
    openssl = core.openssl_version,
  }
  local ok, curl = pcall(require, "paddle.curl")
  if ok then
    v.libcurl = curl.version
    v.libcurl_ssl = curl.ssl_version
  end
  return v
end

-- paddle.webhooks is loaded on first use only.
return setmetatable(_M, {
  __index = function(t, k)
    if k == "webhooks" then
      local webhooks = require "paddle.webhooks"
      rawset(t, k, webhooks)
      return webhooks
    end
    return nil
  end,
})
