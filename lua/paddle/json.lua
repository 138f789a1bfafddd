-- JSON for request bodies. Decoding is lua-cjson's (cjson.safe); encoding is
-- ours because lua-cjson 2.1.0 (Debian's) cannot say `[]`: an empty Lua table
-- is ambiguous, so arrays that may be empty are marked with json.array().
local cjson = require "cjson.safe"

local concat = table.concat
local format = string.format
local gsub = string.gsub
local math_type = math.type -- luacheck: ignore (nil on LuaJIT/5.1)
local next = next
local pairs = pairs
local setmetatable = setmetatable
local getmetatable = getmetatable
local sort = table.sort
local tostring = tostring
local tonumber = tonumber
local type = type
local huge = math.huge
local floor = math.floor

local _M = {}

_M.null = cjson.null

local array_mt = { __name = "paddle.array" }

-- json.array(t) -> t, encoded as a JSON array even when empty.
function _M.array(t)
  return setmetatable(t or {}, array_mt)
end

function _M.is_array_marked(t)
  return getmetatable(t) == array_mt
end

local escapes = {
  ['"'] = '\\"', ["\\"] = "\\\\", ["\b"] = "\\b", ["\f"] = "\\f",
  ["\n"] = "\\n", ["\r"] = "\\r", ["\t"] = "\\t",
}
local function escape_char(c)
  return escapes[c] or format("\\u%04x", c:byte())
end

local function encode_string(s)
  return '"' .. gsub(s, '[%c"\\]', escape_char) .. '"'
end

local function encode_number(n)
  if n ~= n or n == huge or n == -huge then
    return nil, "cannot encode " .. tostring(n) .. " as JSON"
  end
  if (math_type and math_type(n) == "integer") then return format("%d", n) end
  if n == floor(n) and n > -2^53 and n < 2^53 then return format("%.0f", n) end
  for precision = 15, 16 do -- shortest form that reads back the same
    local s = format("%." .. precision .. "g", n)
    if tonumber(s) == n then return s end
  end
  return format("%.17g", n)
end

-- Sequence length when t is a proper array (keys 1..n), else nil.
local function array_length(t)
  local n = 0
  for k in pairs(t) do
    if type(k) ~= "number" or k < 1 or k % 1 ~= 0 then return nil end
    if k > n then n = k end
  end
  return n
end

local encode_value

local function encode_table(t, depth, path)
  if depth > 100 then return nil, "cannot encode " .. path .. ": nested too deeply" end
  local n = array_length(t)
  if n and (n > 0 or getmetatable(t) == array_mt) then
    local out = {}
    for i = 1, n do
      local v, err = encode_value(t[i], depth + 1, path .. "[" .. i .. "]")
      if not v then return nil, err end
      out[i] = v
    end
    return "[" .. concat(out, ",") .. "]"
  end
  if next(t) == nil then return "{}" end
  local keys = {}
  for k in pairs(t) do
    if type(k) ~= "string" then
      return nil, "cannot encode " .. path .. ": mixed or non-string keys"
    end
    keys[#keys + 1] = k
  end
  sort(keys) -- deterministic bodies: easier to log, test and diff
  local out = {}
  for i = 1, #keys do
    local k = keys[i]
    local v, err = encode_value(t[k], depth + 1, path .. "." .. k)
    if not v then return nil, err end
    out[i] = encode_string(k) .. ":" .. v
  end
  return "{" .. concat(out, ",") .. "}"
end

function encode_value(v, depth, path)
  local tv = type(v)
  if v == cjson.null then return "null" end
  if tv == "string" then return encode_string(v) end
  if tv == "number" then return encode_number(v) end
  if tv == "boolean" then return tostring(v) end
  if tv == "table" then return encode_table(v, depth, path) end
  return nil, "cannot encode " .. path .. ": " .. tv .. " is not JSON"
end

-- json.encode(value) -> string | nil, message
function _M.encode(value)
  return encode_value(value, 0, "body")
end

-- json.decode(text) -> value | nil, message (cjson.null kept for JSON null)
function _M.decode(text)
  return cjson.decode(text)
end

return _M
