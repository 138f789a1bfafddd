-- JSON for the client's request bodies and for the emulator (lua-paddle-mock
-- requires this module too: one codec, one number format, one NaN rule).
--
-- Decoding is paddle.core's (csrc/json_decode.c): strict RFC 8259, whole
-- numbers as Lua integers under 5.4, numbers beyond a double's range refused
-- (without paddle.core, lua-cjson's: see below).
-- Encoding is ours too. lua-cjson 2.1.0 (Debian's) decodes every number as a
-- float, cannot say `[]` for an empty table, escapes "/" and cannot keep an
-- object's field order:
--   json.encode(v)            -> text | nil, message   (keys sorted; NaN/inf refused)
--   json.decode(text)         -> value | nil, message  (null is json.null)
--   json.decode(text, { keep_null = false })
--                             -> null reads as nil (left out of objects, a
--                                hole in arrays)
--   json.decode(text, { arrays = true })
--                             -> every array carries json.array's metatable,
--                                empty ones included, so [] and {} stay apart
--   json.array(t)             -> t, encoded as an array even when empty
--   json.is_array_marked(t), json.is_array(v), json.is_object(v)
--   json.object(fields, t)    -> text: t's fields in this order, absent ones null
--   json.raw(text)            -> already encoded JSON to embed as is
--   json.string(s)            -> s as a JSON string
-- object() and raw() are for values the program builds itself: a value JSON
-- cannot hold there is a bug, and raises.
-- Absent only where the emulator runs in nginx from its own rock (below).
local has_core, core = pcall(require, "paddle.core")

local concat = table.concat
local error = error
local find = string.find
local floor = math.floor
local format = string.format
local getmetatable = getmetatable
local gsub = string.gsub
local huge = math.huge
local math_type = math.type -- luacheck: ignore (nil on LuaJIT/5.1)
local next = next
local pairs = pairs
local setmetatable = setmetatable
local sort = table.sort
local sub = string.sub
local tonumber = tonumber
local tostring = tostring
local type = type

local _M = {}

local json_decode = has_core and core.json_decode or nil
local null = has_core and core.json_null or require("cjson").null -- a NULL light userdata
_M.null = null

local array_mt = { __name = "paddle.array" }
local raw_mt = { __name = "paddle.json.raw" }

-- json.array(t) -> t, encoded as a JSON array even when empty.
function _M.array(t)
  return setmetatable(t or {}, array_mt)
end

function _M.is_array_marked(t)
  return getmetatable(t) == array_mt
end

-- For values decoded with { arrays = true }: arrays are marked, objects not.
function _M.is_array(v)
  return type(v) == "table" and getmetatable(v) == array_mt
end

function _M.is_object(v)
  return type(v) == "table" and getmetatable(v) == nil
end

function _M.raw(encoded)
  return setmetatable({ encoded }, raw_mt)
end

---------------------------------------------------------------- encoding
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
_M.string = encode_string

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
  local mt = getmetatable(t)
  if mt == raw_mt then return t[1] end
  local n = array_length(t)
  if n and (n > 0 or mt == array_mt) then
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
  if v == null then return "null" end
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

-- Encodes t with the given keys in this order; absent keys become null.
function _M.object(fields, t)
  local out = {}
  for i = 1, #fields do
    local k = fields[i]
    local v = t[k]
    local text, err = "null", nil
    if v ~= nil then text, err = encode_value(v, 1, k) end
    if not text then error(err, 2) end
    out[i] = encode_string(k) .. ":" .. text
  end
  return "{" .. concat(out, ",") .. "}"
end

---------------------------------------------------------------- decoding
-- Without paddle.core (the emulator inside nginx from its own rock, whose
-- core is built for Lua 5.4): lua-cjson, on a private instance that refuses
-- NaN, Infinity and hex numbers. Numbers stay floats there and keep_null =
-- false is not offered; the emulator needs neither.
local cjson
if not json_decode then
  cjson = require("cjson.safe").new()
  cjson.decode_invalid_numbers(false)
end

-- cjson decodes [] and {} alike (an empty table). With { arrays = true },
-- every empty array of the text is first rewritten as a one-element array
-- holding a marker string, then the decoded tree is walked: marker arrays
-- become empty marked arrays, other arrays get marked. A text that holds the
-- marker itself is told by the count and retried with another marker.

-- Positions {open, close} of every `[ ]` outside strings.
local function empty_arrays(text)
  local found = {}
  local i = 1
  while true do
    local k = find(text, '[%["]', i)
    if not k then return found end
    if sub(text, k, k) == '"' then
      local j = k + 1
      while true do
        local e = find(text, '["\\]', j)
        if not e then return found end -- unterminated: cjson will say so
        if sub(text, e, e) == '"' then i = e + 1; break end
        j = e + 2
      end
    else
      local _, close = find(text, "^[ \t\r\n]*%]", k + 1)
      if close then found[#found + 1] = { k, close } end
      i = (close or k) + 1
    end
  end
end

local function with_markers(text, spans, marker)
  local out, at = {}, 1
  for i = 1, #spans do
    out[#out + 1] = sub(text, at, spans[i][1] - 1)
    out[#out + 1] = '["' .. marker .. '"]'
    at = spans[i][2] + 1
  end
  out[#out + 1] = sub(text, at)
  return concat(out)
end

-- Marks arrays under t; returns how many marker arrays it emptied, or nil
-- and a message for a number beyond a double's range.
local function mark(t, marker)
  local emptied = 0
  if t[1] ~= nil then -- cjson gives objects string keys only
    if t[1] == marker and t[2] == nil then
      t[1] = nil
      setmetatable(t, array_mt)
      return 1
    end
    setmetatable(t, array_mt)
  end
  for _, v in pairs(t) do
    if type(v) == "table" then
      local n, err = mark(v, marker)
      if not n then return nil, err end
      emptied = emptied + n
    elseif v == huge or v == -huge then
      return nil, "number out of range"
    end
  end
  return emptied
end

local function decode_marked(text)
  local spans = empty_arrays(text)
  for attempt = 0, 9 do
    local marker = "paddle.json.empty_array." .. attempt
    local source = #spans > 0 and with_markers(text, spans, "\\u0000" .. marker) or text
    local v, err = cjson.decode(source)
    if v == nil and err ~= nil then return nil, err end
    if type(v) ~= "table" then
      if v == huge or v == -huge then return nil, "number out of range" end
      return v
    end
    local emptied, merr = mark(v, "\0" .. marker)
    if not emptied then return nil, merr end
    if emptied == #spans then return v end
  end
  return nil, "cannot tell this text's empty arrays apart"
end

-- json.decode(text[, opts]) -> value | nil, message
--   opts.keep_null = false: JSON null reads as nil (default: json.null)
--   opts.arrays: every array carries json.array's metatable
function _M.decode(text, opts)
  if type(text) ~= "string" then return nil, "no JSON text" end
  if not json_decode then
    if opts and opts.keep_null == false then error("keep_null = false needs paddle.core", 2) end
    if opts and opts.arrays then return decode_marked(text) end
    return cjson.decode(text)
  end
  if opts == nil then return json_decode(text, true) end
  return json_decode(text, opts.keep_null ~= false, opts.arrays and array_mt or nil)
end

return _M
