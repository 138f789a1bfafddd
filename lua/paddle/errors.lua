-- Error values: every runtime failure is returned as `nil, err` where err is
-- one of these tables. tostring(err) gives one line for logs, with Paddle's
-- field errors and the request id; `"failed: " .. err` works on either side.
local concat = table.concat
local getmetatable = getmetatable
local ipairs = ipairs
local setmetatable = setmetatable
local tostring = tostring
local type = type

local _M = {}

local Error = { __name = "paddle.Error" }
Error.__index = Error

-- "email: must be a valid email; name: too long"
local function field_errors(list)
  if type(list) ~= "table" then return nil end
  local parts = {}
  for _, e in ipairs(list) do
    if type(e) == "table" then
      local field, message = e.field, e.message
      parts[#parts + 1] = (type(field) == "string" and field .. ": " or "") .. tostring(message)
    end
  end
  if #parts == 0 then return nil end
  return concat(parts, "; ")
end

function Error.__tostring(err)
  local parts = { "paddle:" }
  if err.status then parts[#parts + 1] = tostring(err.status) end
  parts[#parts + 1] = tostring(err.code or err.type or "error") .. ":"
  parts[#parts + 1] = tostring(err.detail or "")
  local line = concat(parts, " ")
  local fields = field_errors(err.errors)
  if fields then line = line .. " (" .. fields .. ")" end
  if err.request_id then line = line .. " [request_id " .. tostring(err.request_id) .. "]" end
  return line
end

function Error.__concat(a, b)
  if getmetatable(a) == Error then a = Error.__tostring(a) end
  if getmetatable(b) == Error then b = Error.__tostring(b) end
  return a .. b
end

-- new{ type = ..., code = ..., detail = ..., status = ... } -> error value
function _M.new(fields)
  return setmetatable(fields, Error)
end

function _M.is_error(v)
  return getmetatable(v) == Error
end

return _M
