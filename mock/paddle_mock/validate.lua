-- Request body validation with Paddle's invalid_field messages. A schema maps
-- field names to rules:
--   kind = "string" | "object" | "array" | "boolean" | "number"
--   required, nullable, min, max (string length or array items), email,
--   values (allowed strings), pattern (Lua), ignored (read-only: accepted, unused)
local json = require "paddle.json"

local concat = table.concat
local format = string.format
local ipairs = ipairs
local pairs = pairs
local sort = table.sort
local type = type

local null = json.null

local _M = {}

local EMAIL_MAX = 320

local EMAIL_PATTERN = "^[^%s@\"<>,;]+@[^%s@\"<>,;]+%.[^%s@\"<>,;]+$"

function _M.is_email(v)
  return type(v) == "string" and #v <= EMAIL_MAX and v:find(EMAIL_PATTERN) ~= nil
end

local function kind_of(v)
  if v == null then return "null" end
  local t = type(v)
  if t == "table" then return json.is_array(v) and "array" or "object" end
  return t
end

local function check_value(field, v, rule, errs)
  local kind = kind_of(v)
  if kind == "null" then
    if not rule.nullable then
      errs[#errs + 1] = { field = field, message = "cannot be null" }
    end
    return
  end
  if kind ~= rule.kind then
    errs[#errs + 1] = { field = field, message = "must be of type " .. rule.kind }
    return
  end
  if kind == "string" then
    if rule.min and #v < rule.min then
      errs[#errs + 1] = { field = field, message = format("minimum length of %d not met", rule.min) }
    elseif rule.max and #v > rule.max then
      errs[#errs + 1] = { field = field,
        message = format("maximum length of %d exceeded. provided value length %d", rule.max, #v) }
    elseif rule.email and not _M.is_email(v) then
      errs[#errs + 1] = { field = field, message = "must be a valid email address" }
    elseif rule.values and not rule.values[v] then
      local allowed = {}
      for k in pairs(rule.values) do allowed[#allowed + 1] = k end
      sort(allowed)
      errs[#errs + 1] = { field = field, message = "must be one of: " .. concat(allowed, ", ") }
    elseif rule.pattern and not v:find(rule.pattern) then
      errs[#errs + 1] = { field = field, message = rule.pattern_message or "has an invalid format" }
    end
  elseif kind == "array" and rule.max and #v > rule.max then
    errs[#errs + 1] = { field = field,
      message = format("maximum of %d items exceeded. provided %d items", rule.max, #v) }
  end
  if rule.each and kind == "array" then
    for i = 1, #v do rule.each(field .. "[" .. (i - 1) .. "]", v[i], errs) end
  end
end
_M.check_value = check_value

-- Checks body (a decoded JSON object) against schema. Unknown fields are
-- reported, like the API's additionalProperties: false. partial: an update,
-- where required fields may be omitted. Returns a list of errors (maybe empty).
function _M.check(body, schema, partial)
  local errs = {}
  local names = {}
  for k in pairs(body) do names[#names + 1] = k end
  sort(names)
  for _, k in ipairs(names) do
    local rule = schema[k]
    if not rule then
      errs[#errs + 1] = { field = k, message = "unknown field" }
    elseif not rule.ignored then
      check_value(k, body[k], rule, errs)
    end
  end
  if not partial then
    local required = {}
    for k, rule in pairs(schema) do
      if rule.required and body[k] == nil then required[#required + 1] = k end
    end
    sort(required)
    for _, k in ipairs(required) do
      errs[#errs + 1] = { field = k, message = "must be provided as part of the request" }
    end
  end
  return errs
end

-- Decodes a request body that must be a JSON object. Returns the table, or
-- nil and an error detail. An empty body counts as {} when allow_empty.
function _M.body(req, allow_empty)
  local raw = req.body
  if raw == nil or raw:find("^%s*$") then
    if allow_empty then return {} end
    return nil, "Request body is required."
  end
  local v, err = json.decode(raw, { arrays = true })
  if v == nil then return nil, "Invalid JSON in request body: " .. err end
  if kind_of(v) ~= "object" then return nil, "Request body must be a JSON object." end
  return v
end

return _M
