-- Paddle's cursor pagination: every list answer carries
--   meta.pagination = { per_page, next, has_more, estimated_total }
-- where `next` is the absolute URL of the following page (filters included).
--
-- each() is Kong's each(): an iterator that yields one entity at a time,
-- fetching the next page only when the current one is used up (one page in
-- memory), and on a failure yields `false, err` once and then ends. err.cursor
-- is the `after` of the first page not read, so
--   client.customers.list{ after = err.cursor, <same filters> }
-- resumes the walk with nothing lost or repeated.
local errors = require "paddle.errors"
local url = require "paddle.url"

local encode_query = url.encode_query
local error = error
local find = string.find
local match = string.match
local pairs = pairs
local query_value = url.query_value
local sub = string.sub
local type = type

local _M = {}

-- Paddle's largest page: a walk costs a quarter of the requests of the default 50.
_M.WALK_PER_PAGE = 200

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
local function following(client_origin, meta)
  local pagination = meta.pagination
  local has_more = pagination.has_more
  if has_more == false then return nil end
  if has_more ~= true then
    return false, protocol_error("meta.pagination.has_more is not a boolean", meta)
  end
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
  return next_url
end

local function with_cursor(err, cursor)
  if type(err) == "table" then err.cursor = cursor end
  return err
end

-- each(client, path, query) -> iterator yielding entity | false, err
function _M.each(client, path, query)
  local first_query = {}
  for k, v in pairs(query or {}) do first_query[k] = v end
  if first_query.per_page == nil then first_query.per_page = _M.WALK_PER_PAGE end
  local client_origin = client._origin
  local target, query_string = path, encode_query(first_query)
  local cursor = first_query.after -- the `after` of the page about to be read
  local items, i, n = nil, 0, 0
  local pending -- an error to report once this page's entities are out
  local requested = {} -- the `after` of every page read ("" for the first): cycles end the walk
  local finished = false

  return function()
    if client._closed and not finished then error("paddle: client is closed", 2) end
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
      local data, meta = client:send("GET", target, query_string, nil, "list", nil, true)
      if not data then
        finished = true
        return false, with_cursor(meta, cursor)
      end
      local next_target, err = following(client_origin, meta)
      local next_cursor = next_target and query_value(next_target, "after") or nil
      requested[cursor or ""] = true
      if next_target and next_cursor == cursor then
        -- The server answered the page before again (a cache that ignores
        -- the query?): none of it is new, so none of it is yielded.
        finished = true
        return false, with_cursor(protocol_error("pagination does not advance: the page after "
          .. (cursor or "the first") .. " names itself as next", meta), cursor)
      end
      if next_target and requested[next_cursor or ""] then
        next_target, err = false, protocol_error("pagination loops back to a page already read", meta)
      end
      items, i, n = data, 0, #data
      if err then
        -- The page arrived whole; what follows it starts after its last entity.
        pending = with_cursor(err, n > 0 and data[n].id or cursor)
      end
      target, query_string = next_target or nil, nil
      cursor = next_cursor
    end
    return nil
  end
end

-- page(client, path, query) -> { data = {...}, meta = {...}, cursor = "..." | nil } | nil, err
-- cursor is the `after` value of the next page (nil on the last page).
function _M.page(client, path, query)
  local data, meta = client:send("GET", path, encode_query(query or {}), nil, "list")
  if not data then return nil, with_cursor(meta, query and query.after) end
  local cursor
  local pagination = meta.pagination
  if pagination.has_more == true and type(pagination.next) == "string" then
    cursor = query_value(pagination.next, "after")
  end
  return { data = data, meta = meta, cursor = cursor }
end

return _M
