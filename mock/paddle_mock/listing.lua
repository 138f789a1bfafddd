-- Paginated lists like Paddle's: per_page (default 50, clamped to 200),
-- order_by id[ASC]/id[DESC] (default DESC), the after cursor, and
-- meta.pagination {per_page, next, has_more, estimated_total} where next is
-- an absolute URL keeping the request's own query with after=<last id>.
-- estimated_total is exact up to 100,000 matches and 100001 above, like
-- Paddle's; -1 when the request sends `Skip-Count: true` (the scan then stops
-- at the end of the page instead of counting every match).
-- A filter given empty (`?status=`) is a 400 naming it: Paddle does not
-- document that case, and an empty value is most likely a client's bug.
local json = require "paddle.json"
local errors = require "paddle_mock.errors"
local store = require "paddle_mock.store"

local concat = table.concat
local find = string.find
local floor = math.floor
local gmatch = string.gmatch
local ipairs = ipairs
local lower = string.lower
local min = math.min
local sort = table.sort
local tonumber = tonumber
local type = type

local escape_uri = ngx.escape_uri
local unescape_uri = ngx.unescape_uri

local _M = {
  DEFAULT_PER_PAGE = 50,
  MAX_PER_PAGE = 200,
  MAX_COUNTED = 100000, -- above: estimated_total is MAX_COUNTED + 1
}

-- One query parameter as a string (first one if repeated, "" if bare).
local function arg(req, name)
  local v = req.args[name]
  if type(v) == "table" then v = v[1] end
  if v == true then v = "" end
  return v
end
_M.arg = arg

local function empty_filter(name, errs)
  errs[#errs + 1] = { field = name, message = "must not be empty: omit the parameter instead" }
end

-- A filter's value: nil when absent; "" (with an error in errs) when empty.
function _M.filter_arg(req, name, errs)
  local v = arg(req, name)
  if v ~= nil and v:find("^%s*$") then empty_filter(name, errs) end
  return v
end

-- ?status= (default active) as the set of statuses wanted (active,
-- archived); an unknown one is an error in errs.
function _M.status_arg(req, errs)
  local wanted = {}
  for _, s in ipairs(_M.list_arg(req, "status", errs) or { "active" }) do
    if s ~= "active" and s ~= "archived" then
      errs[#errs + 1] = { field = "status", message = "must be one of: active, archived" }
      break
    end
    wanted[s] = true
  end
  return wanted
end

-- ?search= lowercased, or nil when absent or empty; over 100 characters, an
-- error in errs.
function _M.search_arg(req, errs)
  local search = _M.filter_arg(req, "search", errs)
  if search == "" then search = nil end
  if search and #search > 100 then
    errs[#errs + 1] = { field = "search",
      message = "maximum length of 100 exceeded. provided value length " .. #search }
  end
  return search and lower(search)
end

-- A comma-separated filter as a list of non-empty items, or nil when
-- absent; given but empty (or only commas), an error in errs and nil.
function _M.list_arg(req, name, errs)
  local v = arg(req, name)
  if v == nil then return nil end
  local out = {}
  for item in gmatch(v, "[^,]+") do
    item = item:match("^%s*(.-)%s*$")
    if item ~= "" then out[#out + 1] = item end
  end
  if #out == 0 then
    empty_filter(name, errs)
    return nil
  end
  return out
end

-- Skip-Count: true asks for no total (Paddle answers estimated_total -1).
function _M.skip_count(req)
  local v = req.headers["skip-count"]
  if type(v) == "table" then v = v[1] end
  return type(v) == "string" and lower(v) == "true"
end

-- per_page, order_by, after; appends problems to errs.
function _M.params(req, errs)
  local p = { per_page = _M.DEFAULT_PER_PAGE, order = "desc" }
  local per_page = arg(req, "per_page")
  if per_page ~= nil then
    local n = per_page:match("^%d+$") and tonumber(per_page)
    if not n or n < 1 then
      errs[#errs + 1] = { field = "per_page", message = "must be a whole number greater than 0" }
    else
      p.per_page = min(n, _M.MAX_PER_PAGE)
    end
  end
  local order_by = arg(req, "order_by")
  if order_by ~= nil then
    local o = lower(order_by)
    if o == "id[asc]" then
      p.order = "asc"
    elseif o == "id[desc]" then
      p.order = "desc"
    else
      errs[#errs + 1] = { field = "order_by",
        message = "must be a field followed by [ASC] or [DESC]; valid fields: id" }
    end
  end
  local after = arg(req, "after")
  if after ~= nil and after ~= "" then p.after = after end
  return p
end

-- The slot of the last id before the cursor in a collection whose ids grow
-- with the slot: largest slot with id < after (desc), smallest with id > after (asc).
local function id_at(coll, slot)
  for s = slot, 1, -1 do
    local id = store.slot(coll, s)
    if id then return id end
  end
  return ""
end

local function start_slot(coll, n, order, after)
  if order == "desc" then
    local lo, hi = 0, n -- answer in [0, n]
    while lo < hi do
      local mid = floor((lo + hi + 1) / 2)
      if id_at(coll, mid) < after then lo = mid else hi = mid - 1 end
    end
    return lo
  end
  local lo, hi = 1, n + 1 -- answer in [1, n + 1]
  while lo < hi do
    local mid = floor((lo + hi) / 2)
    if id_at(coll, mid) > after then hi = mid else lo = mid + 1 end
  end
  return lo
end

local function past_cursor(id, order, after)
  if not after then return true end
  if order == "desc" then return id < after end
  return id > after
end

-- spec: per_page, order, after, and either
--   coll: an ordered collection to scan, or
--   candidates: a list of ids (any order, duplicates allowed) with prefix;
-- prefilter(id), checked before the record is read, and match(id, json)
-- filter; total, when known, lets the scan stop early, and so does
-- skip_count (the total is then not wanted).
-- Returns the page (JSON strings), has_more, estimated_total, last id.
function _M.page(spec)
  local per_page, order, after, match = spec.per_page, spec.order, spec.after, spec.match
  local prefilter = spec.prefilter
  local skip_count = spec.skip_count
  local items, ids, total = {}, {}, 0

  local function consider(id, record)
    if match and not match(id, record) then return end
    total = total + 1
    if #items <= per_page and past_cursor(id, order, after) then
      items[#items + 1] = record
      ids[#ids + 1] = id
    end
  end

  if spec.candidates then
    local seen, sorted = {}, {}
    for _, id in ipairs(spec.candidates) do
      if not seen[id] and find(id, spec.prefix .. "_", 1, true) == 1 then
        seen[id] = true
        sorted[#sorted + 1] = id
      end
    end
    if order == "desc" then sort(sorted, function(a, b) return a > b end) else sort(sorted) end
    for _, id in ipairs(sorted) do
      local record = (not prefilter or prefilter(id)) and store.get(id)
      if record then consider(id, record) end
      if skip_count and #items > per_page then break end
    end
  else
    local coll = spec.coll
    local n = store.count(coll)
    local known_total = spec.total
    local first, last, step = n, 1, -1
    if order == "asc" then first, last, step = 1, n, 1 end
    if known_total and after then first = start_slot(coll, n, order, after) end
    for s = first, last, step do
      local id = store.slot(coll, s)
      local record = id and (not prefilter or prefilter(id)) and store.get(id)
      if record then consider(id, record) end
      if (known_total or skip_count) and #items > per_page then break end
    end
    if known_total then total = known_total end
  end

  local has_more = #items > per_page
  if has_more then
    items[#items] = nil
    ids[#ids] = nil
  end
  return items, has_more, total, ids[#ids]
end

-- The next-page URL: this request's scheme, host, path and query, with the
-- after parameter set to the last id of the page (left as is on an empty page).
function _M.next_url(req, last_id)
  local parts = {}
  for piece in gmatch(req.query, "[^&]+") do
    local name = piece:match("^[^=]*")
    if last_id == nil or unescape_uri(name) ~= "after" then parts[#parts + 1] = piece end
  end
  if last_id then parts[#parts + 1] = "after=" .. escape_uri(last_id) end
  local url = req.base_url .. req.raw_path
  if #parts > 0 then url = url .. "?" .. concat(parts, "&") end
  return url
end

-- The envelope around one entity's JSON.
function _M.one(req, status, record)
  return status, '{"data":' .. record .. ',"meta":{"request_id":"' .. req.request_id .. '"}}'
end

-- GET of a top-level entity by id: its envelope, or 404 unless the id has
-- this prefix and is stored.
function _M.get(req, prefix, id)
  local record = find(id, "^" .. prefix .. "_") and store.get(id)
  if not record then return errors.not_found(req, id) end
  return _M.one(req, 200, record)
end

-- The list envelope around JSON item strings.
function _M.respond(req, items, has_more, total, last_id, per_page)
  if _M.skip_count(req) then
    total = -1
  elseif total > _M.MAX_COUNTED then
    total = _M.MAX_COUNTED + 1
  end
  local pagination = '{"per_page":' .. per_page .. ',"next":' .. json.string(_M.next_url(req, last_id))
    .. ',"has_more":' .. (has_more and "true" or "false") .. ',"estimated_total":' .. total .. "}"
  return 200, '{"data":[' .. concat(items, ",") .. '],"meta":{"request_id":' .. json.string(req.request_id)
    .. ',"pagination":' .. pagination .. "}}"
end

-- Everything at once: params, page, envelope. errs holds earlier problems.
function _M.list(req, spec, errs, invalid)
  local p = _M.params(req, errs)
  if #errs > 0 then return invalid(req, errs) end
  spec.per_page, spec.order, spec.after = p.per_page, p.order, p.after
  spec.skip_count = _M.skip_count(req)
  local items, has_more, total, last_id = _M.page(spec)
  return _M.respond(req, items, has_more, total, last_id, p.per_page)
end

return _M
