-- How an error message shows a value the caller gave: a string quoted and
-- cut (a key or a whole file line must not fill the message), other values
-- by their type.
local format = string.format
local sub = string.sub
local type = type

local _M = {}

-- A string as %q shows it, cut after `limit` characters (default 60).
function _M.quoted(s, limit)
  limit = limit or 60
  if #s > limit then s = sub(s, 1, limit) .. "..." end
  return format("%q", s)
end

-- `"abc" (a string)`, `1.5 (a number)`, `a table`...
function _M.value(v, limit)
  if type(v) == "string" then return _M.quoted(v, limit) .. " (a string)" end
  if type(v) == "number" then return format("%.17g (a number)", v) end
  return "a " .. type(v)
end

return _M
