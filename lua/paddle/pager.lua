-- Paddle's cursor pagination: every list answer carries
--   meta.pagination = { per_page, next, has_more, estimated_total }
-- where `next` is the absolute URL of the following page (filters included).
--
-- each() is Kong's each(): an iterator that yields one entity at a time,
-- fetching the next page only when the current one is used up (one page in
-- memory), and on a failure yields `false, err` once and then ends.
local errors = require "paddle.errors"
local url = require "paddle.url"

local find = string.find
local match = string.match
local sub = string.sub
local type = type

local _M = {}

local function protocol_error(detail, meta)
  return errors.new {
    type = "decode_error", code = "invalid_pagination", detail = detail,
    request_id = type(meta) == "table" and meta.request_id or nil,
  }
end

-- The target of the page after this one: nil when there is none, or
-- false, err when the answer's pagination cannot be followed.
--
-- `next` is followed verbatim when it is on the client's origin (or a path).
-- When it names another origin (a client pointed at a proxy receives
-- Paddle's own https://api.paddle.com/... URLs), its path and query are sent
-- to the client's base_url instead: the API key only ever goes to base_url.
local function following(client_origin, current, meta)
  local pagination = type(meta) == "table" and meta.pagination
  if type(pagination) ~= "table" then return nil end -- not paginated: one page
  if pagination.has_more ~= true then return nil end
  local next_url = pagination.next
  if type(next_url) ~= "string" or next_url == "" or find(next_url, "[%s%c]") then
    return false, protocol_error("has_more is true but meta.pagination.next is not a URL", meta)
  end
  if sub(next_url, 1, 1) ~= "/" then
    local origin = url.origin(next_url)
    if not origin then
      return false, protocol_error("meta.pagination.next is not a URL: " .. sub(next_url, 1, 200), meta)
    end
    if origin ~= client_origin then
      local rest = match(next_url, "^%a[%w+.-]*://[^/?#]+(/[^#]*)")
      if not rest then
        return false, protocol_error("meta.pagination.next has no path: " .. sub(next_url, 1, 200), meta)
      end
      next_url = rest
    end
  end
  if next_url == current then
    return false, protocol_error("pagination does not advance: next is the page just read", meta)
  end
  return next_url
end

-- each(client, path, query) -> iterator yielding entity | false, err
function _M.each(client, path, query)
  local request = client.request
  local client_origin = url.origin(client.base_url)
  local target, options = path, { query = query }
  local items, i, n = nil, 0, 0
  local pending -- an error to report once this page's entities are out
  local finished = false

  return function()
    while not finished do
      if i < n then
        i = i + 1
        local item = items[i]
        items[i] = nil -- hand it over: the page shrinks as it is read
        return item
      end
      items = nil
      if pending then
        finished = true
        return false, pending
      end
      if not target then
        finished = true
        return nil
      end
      local data, meta = request("GET", target, options)
      if not data then
        finished = true
        return false, meta
      end
      if type(data) ~= "table" then
        finished = true
        return false, protocol_error("a list answer's data is not an array", meta)
      end
      items, i, n = data, 0, #data
      local next_target, err = following(client_origin, target, meta)
      target, options, pending = next_target or nil, nil, err
    end
    return nil
  end
end

-- page(client, path, query) -> { data = {...}, meta = {...}, cursor = "..." | nil } | nil, err
-- cursor is the `after` value of the next page (nil on the last page).
function _M.page(client, path, query)
  local data, meta = client.request("GET", path, { query = query })
  if not data then return nil, meta end
  if type(data) ~= "table" then
    return nil, protocol_error("a list answer's data is not an array", meta)
  end
  local cursor
  local pagination = type(meta) == "table" and meta.pagination
  if type(pagination) == "table" and pagination.has_more == true and type(pagination.next) == "string" then
    cursor = url.query_value(pagination.next, "after")
  end
  return { data = data, meta = meta, cursor = cursor }
end

return _M
