-- URLs and query strings. Values are percent-encoded like curl_easy_escape
-- (RFC 3986 unreserved characters kept); array values are comma-joined.
local core = require "paddle.core"

local concat = table.concat
local error = error
local escape = core.escape
local pairs = pairs
local sort = table.sort
local tostring = tostring
local type = type
local tonumber = tonumber
local char = string.char
local format = string.format
local huge = math.huge

local _M = {}

local function scalar(v, name)
  local tv = type(v)
  if tv == "string" then return escape(v) end
  if tv == "number" then
    if v ~= v or v == huge or v == -huge then
      error("query parameter '" .. name .. "' is " .. tostring(v) .. ", not a finite number", 0)
    end
    if v % 1 == 0 and v > -2^53 and v < 2^53 then return format("%d", v) end
    return escape(format("%.17g", v))
  end
  if tv == "boolean" then return tostring(v) end
  error("query parameter '" .. name .. "' has a " .. tv .. " value", 0)
end

-- encode_query{ status = {"active","archived"}, per_page = 50 } ->
-- "per_page=50&status=active,archived" (keys sorted: stable URLs)
function _M.encode_query(params)
  local keys = {}
  for k in pairs(params) do
    if type(k) ~= "string" then error("query parameter names must be strings", 0) end
    keys[#keys + 1] = k
  end
  sort(keys)
  local parts = {}
  for i = 1, #keys do
    local k, v = keys[i], params[keys[i]]
    local value
    if type(v) == "table" then
      local items = {}
      for j = 1, #v do items[j] = scalar(v[j], k) end
      value = concat(items, ",")
    else
      value = scalar(v, k)
    end
    parts[#parts + 1] = escape(k) .. "=" .. value
  end
  return concat(parts, "&")
end

-- The value of one query parameter in a URL (decoded), or nil.
function _M.query_value(u, name)
  local query = u:match("%?([^#]*)")
  if not query then return nil end
  for pair in query:gmatch("[^&]+") do
    local k, v = pair:match("^([^=]*)=?(.*)$")
    if k == name then
      return (v:gsub("+", " "):gsub("%%(%x%x)", function(h) return char(tonumber(h, 16)) end))
    end
  end
  return nil
end

-- "https://host:port" of a URL (lowercased scheme and host), or nil.
function _M.origin(u)
  local scheme, authority = u:match("^(%a[%w+.-]*)://([^/?#]+)")
  if not scheme then return nil end
  return scheme:lower() .. "://" .. authority:lower()
end

return _M
