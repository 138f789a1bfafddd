-- Wall-clock time in microseconds and RFC 3339 timestamps written the way
-- Paddle writes them: microseconds with trailing zeros dropped, no fraction
-- when it is zero ("...:56.658719Z", "...:56.34Z", "...:56Z").
-- ngx.now() only has milliseconds.
local ffi = require "ffi"

local floor = math.floor
local format = string.format
local gsub = string.gsub
local os_date = os.date
local pcall = pcall
local tonumber = tonumber

local ngx_now = ngx.now
local ngx_update_time = ngx.update_time

local _M = {}

pcall(ffi.cdef, [[
  typedef struct { long tv_sec; long tv_usec; } paddle_mock_timeval;
  int gettimeofday(paddle_mock_timeval *tv, void *tz);
]])
local tv = ffi.new("paddle_mock_timeval")
local C = ffi.C

-- Microseconds since the epoch, as an integral Lua number.
function _M.now_us()
  if C.gettimeofday(tv, nil) == 0 then
    return tonumber(tv.tv_sec) * 1000000 + tonumber(tv.tv_usec)
  end
  ngx_update_time()
  return floor(ngx_now() * 1000) * 1000
end

-- Seconds (with a fraction) for rate limiting.
function _M.now()
  return _M.now_us() / 1e6
end

local cached_sec, cached_prefix
function _M.rfc3339(us)
  us = us or _M.now_us()
  local sec = floor(us / 1000000)
  if sec ~= cached_sec then
    cached_sec = sec
    cached_prefix = os_date("!%Y-%m-%dT%H:%M:%S", sec)
  end
  local fraction = us % 1000000
  if fraction == 0 then return cached_prefix .. "Z" end
  return cached_prefix .. (gsub(format(".%06d", fraction), "0+$", "")) .. "Z"
end

return _M
