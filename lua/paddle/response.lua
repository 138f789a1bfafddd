-- Answers to values: every answer is checked against the shape its endpoint
-- promises before it is returned, so a malformed 200 is an error
-- (decode_error / invalid_response), never a partial result that looks whole.
--
--   decode(expect, prefix, status, body, request_id, attempts, keep_null) -> data, meta | nil, err
--
-- expect: "list" (data: array of objects, meta.pagination: object),
-- "array" (data: array of objects), "object" (data: object),
-- "entity" (data: object whose id has `prefix`, e.g. "ctm"), "none"
-- (no content: 204 or an empty body), or nil for client.request's generic
-- answer (data when there is one, else the whole document).
local errors = require "paddle.errors"
local ids = require "paddle.ids"

local format = string.format
local gsub = string.gsub
local next = next
local pairs = pairs
local sub = string.sub
local tostring = tostring
local type = type

local _M = {}

-- A short, printable excerpt of a body that was not what we expected.
local function snippet(body)
  local s = gsub(sub(body or "", 1, 120), "[%c]+", " ")
  if #(body or "") > 120 then s = s .. "..." end
  return s
end
_M.snippet = snippet

local function invalid(status, request_id, attempts, why, body)
  return errors.new {
    type = "decode_error", code = "invalid_response", status = status, request_id = request_id,
    attempts = attempts, detail = format("HTTP %d: %s: %s", status, why, snippet(body)),
  }
end

-- paddle.json's decoder itself, called directly on the hot path: the body
-- is always a string here.
local decode_json = require("paddle.core").json_decode

-- true when t is a JSON array: keys exactly 1..#t (an empty table counts).
local function is_array(t)
  local n = #t
  local count = 0
  for k in pairs(t) do
    if type(k) ~= "number" or k < 1 or k > n or k % 1 ~= 0 then return false end
    count = count + 1
  end
  return count == n
end

local function array_of_objects(t)
  if type(t) ~= "table" or not is_array(t) then return false end
  for i = 1, #t do
    if type(t[i]) ~= "table" then return false end
  end
  return true
end

local function is_object(t)
  return type(t) == "table" and (next(t) == nil or not is_array(t))
end

-- Why data (and meta) do not have the promised shape, or nil when they do.
local function shape_problem(expect, prefix, doc)
  local data = doc.data
  if expect == "list" then
    if not array_of_objects(data) then return "a list answer's data is not an array of objects" end
    local meta = doc.meta
    if type(meta) ~= "table" or not is_object(meta.pagination) then
      return "a list answer has no meta.pagination object"
    end
  elseif expect == "array" then
    if not array_of_objects(data) then return "data is not an array of objects" end
  elseif expect == "object" then
    if not is_object(data) or next(data) == nil then return "data is not an object" end
  elseif expect == "entity" then
    if not is_object(data) or next(data) == nil then return "data is not an object" end
    if not ids.valid(prefix, data.id) then
      return "data.id is not " .. ids.describe(prefix) .. " (got " .. tostring(data.id) .. ")"
    end
  end
  return nil
end

function _M.decode(expect, prefix, status, body, request_id, attempts, keep_null)
  if body == "" or status == 204 then
    if expect == "none" or (expect == nil and status == 204) then
      return true, { request_id = request_id }
    end
    return nil, invalid(status, request_id, attempts, "an empty answer where data was expected", body)
  end
  local doc, err = decode_json(body, keep_null)
  if type(doc) ~= "table" then
    return nil, invalid(status, request_id, attempts, "the body is not a JSON object ("
      .. tostring(err or "a " .. type(doc)) .. ")", body)
  end
  if expect == nil or expect == "none" then
    if doc.data == nil then return doc, nil end
    return doc.data, doc.meta
  end
  -- The common answer, one entity: a table with a well-formed id is a
  -- non-empty object, so the full check (and its message) is for the rest.
  local data = doc.data
  if not (expect == "entity" and type(data) == "table" and ids.valid(prefix, data.id)) then
    local problem = shape_problem(expect, prefix, doc)
    if problem then return nil, invalid(status, request_id, attempts, problem, body) end
  end
  local meta = doc.meta
  if type(meta) ~= "table" then meta = { request_id = request_id } end
  return data, meta
end

-- The error value of a non-2xx answer: Paddle's error object when the body
-- holds one, else a decode_error that shows what came instead.
function _M.error(status, body, request_id, attempts, retry_after, keep_null)
  local doc = body ~= "" and decode_json(body, keep_null) or nil
  local e = type(doc) == "table" and doc.error
  if type(e) == "table" then
    local meta = type(doc.meta) == "table" and doc.meta or {}
    return errors.new {
      type = e.type, code = e.code, detail = e.detail, documentation_url = e.documentation_url,
      errors = type(e.errors) == "table" and e.errors or nil, status = status,
      request_id = type(meta.request_id) == "string" and meta.request_id or request_id,
      retry_after = retry_after, attempts = attempts,
    }
  end
  return errors.new {
    type = "decode_error", code = "invalid_response", status = status,
    detail = "HTTP " .. status .. " with a non-JSON body: " .. snippet(body),
    request_id = request_id, retry_after = retry_after, attempts = attempts,
  }
end

return _M
