-- Paddle-style ids: prefix + 26 chars of lowercase Crockford base32, a
-- ULID: 10 chars of millisecond time then 16 random chars. The store hands
-- out strictly increasing times, so ids sort in creation order.
local char = string.char
local concat = table.concat
local floor = math.floor
local format = string.format
local random = math.random
local byte = string.byte
local type = type

local _M = {}

local ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"
local digits = {}
for i = 1, 32 do digits[i - 1] = char(byte(ALPHABET, i)) end
_M.ALPHABET = ALPHABET

-- Base32 of a non-negative integer, left-padded to width.
function _M.base32(n, width)
  local out = {}
  for i = width, 1, -1 do
    out[i] = digits[n % 32]
    n = floor(n / 32)
  end
  return concat(out)
end

function _M.random_chars(count)
  local out = {}
  for i = 1, count do out[i] = digits[random(0, 31)] end
  return concat(out)
end

-- time_ms must be unique per prefix and increasing (see store.reserve).
function _M.make(prefix, time_ms)
  return prefix .. "_" .. _M.base32(time_ms, 10) .. _M.random_chars(16)
end

function _M.valid(prefix, id)
  return type(id) == "string" and #id == #prefix + 27 and id:sub(1, #prefix + 1) == prefix .. "_"
    and id:find("^[0-9a-z]+$", #prefix + 2) ~= nil
end

function _M.request_id()
  return format("%08x-%04x-4%03x-%04x-%04x%08x",
    random(0, 0xffffffff), random(0, 0xffff), random(0, 0xfff),
    0x8000 + random(0, 0x3fff), random(0, 0xffff), random(0, 0xffffffff))
end

return _M
