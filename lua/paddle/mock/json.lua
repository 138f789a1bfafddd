-- JSON for the emulator. Pure Lua, because Debian's lua-cjson 2.1.0 cannot
-- tell an empty array from an empty object and escapes "/" in URLs.
--   decode: arrays get the ARRAY metatable (so [] stays []), null is ngx.null.
--   encode: strings unescaped but for what JSON requires, object keys sorted,
--           object(fields, t) writes fields in a fixed order like Paddle's.
local byte = string.byte
local char = string.char
local concat = table.concat
local find = string.find
local floor = math.floor
local format = string.format
local getmetatable = getmetatable
local gsub = string.gsub
local huge = math.huge
local pairs = pairs
local pcall = pcall
local setmetatable = setmetatable
local sort = table.sort
local sub = string.sub
local tonumber = tonumber
local tostring = tostring
local type = type

local null = ngx.null

local _M = {
  null = null,
  ARRAY = { __name = "json.array" },
}
local ARRAY = _M.ARRAY

function _M.array(t)
  return setmetatable(t or {}, ARRAY)
end

-- Already encoded JSON to embed as is (keeps a nested object's field order).
local RAW = { __name = "json.raw" }
function _M.raw(encoded)
  return setmetatable({ encoded }, RAW)
end

function _M.is_array(v)
  return type(v) == "table" and getmetatable(v) == ARRAY
end

function _M.is_object(v)
  return type(v) == "table" and getmetatable(v) ~= ARRAY
end

---------------------------------------------------------------- encoding
local escapes = {
  ['"'] = '\\"', ["\\"] = "\\\\", ["\b"] = "\\b", ["\f"] = "\\f",
  ["\n"] = "\\n", ["\r"] = "\\r", ["\t"] = "\\t",
}
for i = 0, 31 do
  local c = char(i)
  if not escapes[c] then escapes[c] = format("\\u%04x", i) end
end
escapes["\127"] = "\\u007f"

local function encode_string(s)
  if find(s, '[%c"\\]') then
    s = gsub(s, '[%c"\\]', escapes)
  end
  return '"' .. s .. '"'
end
_M.string = encode_string

local encode

local function is_sequence(t)
  local n = #t
  if n == 0 then return false end
  local count = 0
  for _ in pairs(t) do count = count + 1 end
  return count == n
end

local function encode_table(t, depth)
  if depth > 100 then error("json: nesting too deep") end
  local out = {}
  if getmetatable(t) == ARRAY or is_sequence(t) then
    for i = 1, #t do out[i] = encode(t[i], depth + 1) end
    return "[" .. concat(out, ",") .. "]"
  end
  local keys = {}
  for k in pairs(t) do keys[#keys + 1] = tostring(k) end
  sort(keys)
  for i = 1, #keys do
    local k = keys[i]
    local v = t[k]
    if v == nil then v = t[tonumber(k)] end
    out[i] = encode_string(k) .. ":" .. encode(v, depth + 1)
  end
  return "{" .. concat(out, ",") .. "}"
end

encode = function(v, depth)
  local t = type(v)
  if t == "string" then
    return encode_string(v)
  elseif t == "number" then
    if v ~= v or v == huge or v == -huge then return "null" end
    if v == floor(v) and v < 2^53 and v > -2^53 then return format("%d", v) end
    return format("%.17g", v)
  elseif t == "boolean" then
    return v and "true" or "false"
  elseif t == "table" then
    if getmetatable(v) == RAW then return v[1] end
    return encode_table(v, depth or 0)
  end
  return "null" -- nil and ngx.null
end

function _M.encode(v)
  return encode(v, 0)
end

-- Encodes t with the given keys in this order; absent keys become null.
function _M.object(fields, t)
  local out = {}
  for i = 1, #fields do
    local k = fields[i]
    out[i] = '"' .. k .. '":' .. encode(t[k], 1)
  end
  return "{" .. concat(out, ",") .. "}"
end

---------------------------------------------------------------- decoding
local decode_value

local function fail(_, i, what)
  error({ json = format("%s at character %d", what, i) }, 0)
end

local function skip_space(s, i)
  return find(s, "[^ \t\r\n]", i) or #s + 1
end

local function utf8_char(code)
  if code < 0x80 then return char(code) end
  if code < 0x800 then return char(0xC0 + floor(code / 64), 0x80 + code % 64) end
  if code < 0x10000 then
    return char(0xE0 + floor(code / 4096), 0x80 + floor(code / 64) % 64, 0x80 + code % 64)
  end
  return char(0xF0 + floor(code / 262144), 0x80 + floor(code / 4096) % 64,
    0x80 + floor(code / 64) % 64, 0x80 + code % 64)
end

local simple_escapes = {
  [34] = '"', [92] = "\\", [47] = "/", [98] = "\b", [102] = "\f", [110] = "\n", [114] = "\r", [116] = "\t",
}

local function decode_string(s, i)
  local parts, n = {}, 0
  local j = i + 1
  while true do
    local k = find(s, '["\\%c]', j)
    if not k then fail(s, i, "unterminated string") end
    local c = byte(s, k)
    if k > j then n = n + 1; parts[n] = sub(s, j, k - 1) end
    if c == 34 then
      return concat(parts), k + 1
    elseif c == 92 then
      local e = byte(s, k + 1)
      if e == 117 then
        local hex = sub(s, k + 2, k + 5)
        local code = find(hex, "^%x%x%x%x$") and tonumber(hex, 16)
        if not code then fail(s, k, "bad \\u escape") end
        j = k + 6
        if code >= 0xD800 and code <= 0xDBFF and sub(s, j, j + 1) == "\\u" then
          local low = tonumber(sub(s, j + 2, j + 5), 16)
          if low and low >= 0xDC00 and low <= 0xDFFF then
            code = 0x10000 + (code - 0xD800) * 1024 + (low - 0xDC00)
            j = j + 6
          end
        end
        n = n + 1; parts[n] = utf8_char(code)
      elseif simple_escapes[e] then
        n = n + 1; parts[n] = simple_escapes[e]
        j = k + 2
      else
        fail(s, k, "bad escape")
      end
    else
      fail(s, k, "control character in string")
    end
  end
end

local function decode_array(s, i, depth)
  local t, n = setmetatable({}, ARRAY), 0
  i = skip_space(s, i + 1)
  if byte(s, i) == 93 then return t, i + 1 end
  while true do
    local v
    v, i = decode_value(s, i, depth)
    n = n + 1; t[n] = v
    i = skip_space(s, i)
    local c = byte(s, i)
    if c == 93 then return t, i + 1 end
    if c ~= 44 then fail(s, i, "expected ',' or ']'") end
    i = skip_space(s, i + 1)
  end
end

local function decode_object(s, i, depth)
  local t = {}
  i = skip_space(s, i + 1)
  if byte(s, i) == 125 then return t, i + 1 end
  while true do
    if byte(s, i) ~= 34 then fail(s, i, "expected string key") end
    local k
    k, i = decode_string(s, i)
    i = skip_space(s, i)
    if byte(s, i) ~= 58 then fail(s, i, "expected ':'") end
    local v
    v, i = decode_value(s, skip_space(s, i + 1), depth)
    t[k] = v
    i = skip_space(s, i)
    local c = byte(s, i)
    if c == 125 then return t, i + 1 end
    if c ~= 44 then fail(s, i, "expected ',' or '}'") end
    i = skip_space(s, i + 1)
  end
end

decode_value = function(s, i, depth)
  if depth > 100 then fail(s, i, "nesting too deep") end
  local c = byte(s, i)
  if c == 123 then return decode_object(s, i, depth + 1) end
  if c == 91 then return decode_array(s, i, depth + 1) end
  if c == 34 then return decode_string(s, i) end
  if c == 45 or (c and c >= 48 and c <= 57) then
    local num = s:match("^-?%d+%.?%d*[eE]?[-+]?%d*", i)
    local v = num and tonumber(num)
    if not v then fail(s, i, "bad number") end
    return v, i + #num
  end
  if sub(s, i, i + 3) == "true" then return true, i + 4 end
  if sub(s, i, i + 4) == "false" then return false, i + 5 end
  if sub(s, i, i + 3) == "null" then return null, i + 4 end
  fail(s, i, c and "unexpected character" or "unexpected end")
end

-- Returns the value, or nil and a message for malformed text.
function _M.decode(s)
  if type(s) ~= "string" then return nil, "no JSON text" end
  local ok, v, i = pcall(decode_value, s, skip_space(s, 1), 0)
  if not ok then
    if type(v) == "table" and v.json then return nil, v.json end
    return nil, tostring(v)
  end
  i = skip_space(s, i)
  if i <= #s then return nil, format("trailing garbage at character %d", i) end
  return v
end

return _M
