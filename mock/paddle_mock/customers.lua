-- /customers: list, create, get, update; credit balances and auth tokens.
local clock = require "paddle_mock.clock"
local errors = require "paddle_mock.errors"
local events = require "paddle_mock.events"
local ids = require "paddle_mock.ids"
local json = require "paddle.json"
local listing = require "paddle_mock.listing"
local store = require "paddle_mock.store"
local validate = require "paddle_mock.validate"

local assert = assert
local concat = table.concat
local error = error
local find = string.find
local floor = math.floor
local ipairs = ipairs
local lower = string.lower
local match = string.match
local pairs = pairs
local pcall = pcall
local type = type

local null = json.null

local _M = {}

local COLL = "ctm"
_M.FIELDS = { "id", "status", "custom_data", "name", "email", "marketing_consent", "locale",
  "created_at", "updated_at", "import_meta" }
local FIELDS = _M.FIELDS
local STATUSES = { active = true, archived = true }

local CREATE = {
  email = { kind = "string", required = true, email = true, max = 320 },
  name = { kind = "string", nullable = true, max = 1024 },
  custom_data = { kind = "object", nullable = true },
  locale = { kind = "string", min = 2, max = 35, pattern = "^%a%a%a?[%w_%-]*$",
    pattern_message = "must be a valid IETF BCP 47 locale tag" },
  id = { ignored = true }, marketing_consent = { ignored = true }, import_meta = { ignored = true },
}
local UPDATE = {
  email = CREATE.email, name = CREATE.name, custom_data = CREATE.custom_data, locale = CREATE.locale,
  status = { kind = "string", values = STATUSES },
  marketing_consent = { ignored = true },
}
-- A customer given to POST /__mock/seed: what POST /customers takes, and a status.
_M.SEED = {
  email = CREATE.email, name = CREATE.name, custom_data = CREATE.custom_data, locale = CREATE.locale,
  status = UPDATE.status,
}

local function email_key(email)
  return "e:" .. lower(email)
end

-- The id of the customer holding this email (any case), or nil.
function _M.email_owner(email)
  return store.lookup(email_key(email))
end

-- The text GET /customers?search= looks in besides the id: name and email.
local function search_text(t)
  local name = t.name
  if name == null or name == nil then name = "" end
  return lower(name .. "\n" .. t.email)
end

-- Stored JSON starts {"id":"...","status":"..." (fields are written in order).
local function status_of(record)
  return match(record, '^{"id":"[^"]*","status":"(%a+)"')
end
_M.status_of = status_of

local function conflict(req, owner)
  return errors.respond(req, 409, "customer_already_exists",
    "customer email conflicts with customer of id " .. owner)
end

-- Builds and stores a new customer; raises {conflict = id} on a taken email.
-- Used by POST /customers and by the admin API (which skips events).
function _M.create_record(fields)
  local now = clock.rfc3339()
  local t
  local id, record = store.insert("ctm", { COLL }, function(id)
    local ok, owner = store.claim(email_key(fields.email), id)
    if not ok then error({ conflict = owner }, 0) end
    t = {
      id = id, status = fields.status or "active", custom_data = fields.custom_data or null,
      name = fields.name or null, email = fields.email, marketing_consent = false,
      locale = fields.locale or "en", created_at = now, updated_at = now, import_meta = null,
    }
    return json.object(FIELDS, t)
  end)
  store.set("s:" .. id, search_text(t))
  store.add_counter("ctm:" .. t.status, 1)
  return id, record
end

function _M.create(req)
  local body, detail = validate.body(req)
  if not body then return errors.bad_request(req, detail) end
  local errs = validate.check(body, CREATE)
  if #errs > 0 then return errors.invalid(req, errs) end
  local ok, id, record = pcall(_M.create_record, body)
  if not ok then
    if type(id) == "table" and id.conflict then return conflict(req, id.conflict) end
    error(id, 0)
  end
  events.record("customer.created", record)
  return listing.one(req, 201, record)
end

function _M.get(req, id)
  return listing.get(req, "ctm", id)
end

function _M.update(req, id)
  local record = find(id, "^ctm_") and store.get(id)
  if not record then return errors.not_found(req, id) end
  local body, detail = validate.body(req)
  if not body then return errors.bad_request(req, detail) end
  local errs = validate.check(body, UPDATE, true)
  if #errs > 0 then return errors.invalid(req, errs) end

  local t = json.decode(record, { arrays = true })
  local old_status, old_email = t.status, t.email
  if body.email ~= nil and lower(body.email) ~= lower(old_email) then
    local ok, owner = store.claim(email_key(body.email), id)
    if not ok and owner ~= id then return conflict(req, owner) end
    store.unset(email_key(old_email))
  end
  for k, v in pairs(body) do
    if UPDATE[k] and not UPDATE[k].ignored then t[k] = v end
  end
  t.updated_at = clock.rfc3339()
  record = json.object(FIELDS, t)
  store.put(id, record)
  store.set("s:" .. id, search_text(t))
  if t.status ~= old_status then
    store.add_counter("ctm:" .. old_status, -1)
    store.add_counter("ctm:" .. t.status, 1)
  end
  events.record("customer.updated", record)
  return listing.one(req, 200, record)
end

function _M.list(req)
  local errs = {}
  local wanted = listing.status_arg(req, errs)
  local needle = listing.search_arg(req, errs)
  local id_list = listing.list_arg(req, "id", errs)
  local emails = listing.list_arg(req, "email", errs)
  for _, e in ipairs(emails or {}) do
    if #e > 100 then
      errs[#errs + 1] = { field = "email", message = "maximum length of 100 exceeded" }
      break
    end
  end

  local by_email
  if emails then
    by_email = {}
    for _, e in ipairs(emails) do
      local owner = store.lookup(email_key(e))
      if owner then by_email[#by_email + 1] = owner end
    end
  end
  local in_email
  if by_email and id_list then
    in_email = {}
    for _, owner in ipairs(by_email) do in_email[owner] = true end
  end

  local spec = {
    coll = COLL, prefix = "ctm",
    candidates = id_list or by_email,
    prefilter = needle and function(id)
      if find(id, needle, 1, true) then return true end
      local text = store.lookup("s:" .. id)
      return text ~= nil and find(text, needle, 1, true) ~= nil
    end,
    match = function(id, record)
      if not wanted[status_of(record)] then return false end
      return not in_email or in_email[id] == true
    end,
  }
  if not spec.candidates and not needle then
    local total = 0
    for s in pairs(wanted) do total = total + store.counter("ctm:" .. s) end
    spec.total = total
  end
  return listing.list(req, spec, errs, errors.invalid)
end

---------------------------------------------------------------- credit balances
local AMOUNT_FIELDS = { "available", "reserved", "used" }

-- Balances are set through the admin API; customers have none by default.
function _M.set_credit_balance(customer_id, currency_code, balance)
  local list = json.decode(store.lookup("cb:" .. customer_id) or "[]", { arrays = true })
  local entry = { customer_id = customer_id, currency_code = currency_code, balance = balance }
  local replaced = false
  for i, b in ipairs(list) do
    if b.currency_code == currency_code then list[i] = entry; replaced = true end
  end
  if not replaced then list[#list + 1] = entry end
  store.set("cb:" .. customer_id, assert(json.encode(list)))
  return entry
end

function _M.credit_balances(req, id)
  if not (find(id, "^ctm_") and store.get(id)) then return errors.not_found(req, id) end
  local errs = {}
  local currencies = listing.list_arg(req, "currency_code", errs)
  if #errs > 0 then return errors.invalid(req, errs) end
  local wanted
  if currencies then
    wanted = {}
    for _, c in ipairs(currencies) do wanted[c] = true end
  end
  local out = {}
  for _, b in ipairs(json.decode(store.lookup("cb:" .. id) or "[]", { arrays = true })) do
    if not wanted or wanted[b.currency_code] then
      local amounts = {}
      for i, k in ipairs(AMOUNT_FIELDS) do
        amounts[i] = '"' .. k .. '":' .. assert(json.encode(b.balance[k] or "0"))
      end
      out[#out + 1] = '{"customer_id":' .. json.string(id)
        .. ',"currency_code":' .. json.string(b.currency_code)
        .. ',"balance":{' .. concat(amounts, ",") .. "}}"
    end
  end
  return 200, '{"data":[' .. concat(out, ",") .. '],"meta":{"request_id":"' .. req.request_id .. '"}}'
end

---------------------------------------------------------------- auth token
function _M.auth_token(req, id)
  if not (find(id, "^ctm_") and store.get(id)) then return errors.not_found(req, id) end
  local now = clock.now_us()
  local token = "pca_" .. ids.base32(floor(now / 1000), 10) .. ids.random_chars(16) .. "_"
    .. id:sub(5) .. "_" .. ids.random_chars(32)
  return 200, '{"data":{"customer_auth_token":"' .. token .. '","expires_at":"'
    .. clock.rfc3339(now + 30 * 60 * 1000000) .. '"},"meta":{"request_id":"' .. req.request_id .. '"}}'
end

return _M
