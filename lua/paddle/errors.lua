-- Error values: every runtime failure is returned as `nil, err` where err is
-- one of these tables. tostring(err) gives one line for logs.
local setmetatable = setmetatable
local tostring = tostring
local concat = table.concat

local _M = {}

local Error = { __name = "paddle.Error" }
Error.__index = Error

function Error.__tostring(err)
  local parts = { "paddle:" }
  if err.status then parts[#parts + 1] = tostring(err.status) end
  parts[#parts + 1] = tostring(err.code or err.type or "error") .. ":"
  parts[#parts + 1] = tostring(err.detail or "")
  local line = concat(parts, " ")
  if err.request_id then line = line .. " (request_id " .. tostring(err.request_id) .. ")" end
  return line
end

-- new{ type = ..., code = ..., detail = ..., status = ... } -> error value
function _M.new(fields)
  return setmetatable(fields, Error)
end

return _M
