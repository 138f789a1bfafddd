-- lua-paddle: Paddle Billing customers from Lua 5.4 and OpenResty.
local core = require "paddle.core"
local client = require "paddle.client"
local json = require "paddle.json"

local pcall = pcall
local require = require
local type = type

local _M = {
  _VERSION = core._VERSION,
  core = core,
  null = json.null,    -- send JSON null: clears a field in a PATCH
  array = json.array,  -- mark a table as a JSON array even when empty
}

-- paddle.new{ api_key = ..., ... } -> client (see README: Client options)
_M.new = client.new

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

return _M
