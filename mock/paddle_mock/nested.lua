-- Entities nested under a customer that the API creates and updates:
-- addresses and businesses. Archiving is an update of status; there is no delete.
local clock = require "paddle_mock.clock"
local errors = require "paddle_mock.errors"
local events = require "paddle_mock.events"
local json = require "paddle.json"
local listing = require "paddle_mock.listing"
local store = require "paddle_mock.store"
local validate = require "paddle_mock.validate"

local concat = table.concat
local find = string.find
local ipairs = ipairs
local lower = string.lower
local match = string.match
local pairs = pairs
local setmetatable = setmetatable
local type = type

local null = json.null

local Nested = {}
Nested.__index = Nested

local STATUS = { kind = "string", values = { active = true, archived = true } }

-- def: prefix ("add"), event ("address"), fields (output order),
-- create_schema (update_schema derives from it), searched (fields GET ?search= looks in),
-- normalize(t) (optional: fills what the answer must hold but a request may omit).
local function new(def)
  local update = { status = STATUS }
  for k, rule in pairs(def.create_schema) do
    if not rule.ignored then
      local copy = {}
      for rk, rv in pairs(rule) do copy[rk] = rv end
      copy.required = nil
      update[k] = copy
    end
  end
  def.update_schema = update
  return setmetatable(def, Nested)
end

local function customer_exists(id)
  return find(id, "^ctm_") ~= nil and store.get(id) ~= nil
end

local function status_of(record)
  return match(record, '^{"id":"[^"]*","customer_id":"[^"]*","status":"(%a+)"')
end

local envelope = listing.one

function Nested:coll(customer_id)
  return self.prefix .. ":" .. customer_id
end

-- The entity if it exists and belongs to customer_id.
function Nested:find(customer_id, id)
  if not find(id, "^" .. self.prefix .. "_") then return nil end
  local record = store.get(id)
  if record and find(record, '"customer_id":"' .. customer_id .. '"', 1, true) then return record end
  return nil
end

-- Stores a new entity from validated fields; returns id and JSON.
function Nested:create_record(customer_id, fields)
  local now = clock.rfc3339()
  return store.insert(self.prefix, { self:coll(customer_id) }, function(id)
    local t = { id = id, customer_id = customer_id, status = "active", created_at = now,
      updated_at = now, import_meta = null }
    for k, rule in pairs(self.create_schema) do
      if not rule.ignored then
        local v = fields[k]
        if v == nil then v = rule.default end
        if v == nil then v = null end
        t[k] = v
      end
    end
    if self.normalize then self.normalize(t) end
    return json.object(self.fields, t)
  end)
end

-- The id of the customer's first active entity, made (with defaults) when it
-- has none. Paddle's subscriptions and saved payment methods always name the
-- address of their checkout; the admin API and seeding give them one this way.
-- event: record the .created event, as an address made by a checkout would.
function Nested:first_or_create(customer_id, defaults, event)
  local coll = self:coll(customer_id)
  for s = 1, store.count(coll) do
    local id = store.slot(coll, s)
    local record = id and store.get(id)
    if record and status_of(record) == "active" then return id end
  end
  local id, record = self:create_record(customer_id, defaults)
  if event then events.record(self.event .. ".created", record) end
  return id
end

function Nested:create(req, customer_id)
  if not customer_exists(customer_id) then return errors.not_found(req, customer_id) end
  local body, detail = validate.body(req)
  if not body then return errors.bad_request(req, detail) end
  local errs = validate.check(body, self.create_schema)
  if #errs > 0 then return errors.invalid(req, errs) end
  local _, record = self:create_record(customer_id, body)
  events.record(self.event .. ".created", record)
  return envelope(req, 201, record)
end

function Nested:get(req, customer_id, id)
  if not customer_exists(customer_id) then return errors.not_found(req, customer_id) end
  local record = self:find(customer_id, id)
  if not record then return errors.not_found(req, id) end
  return envelope(req, 200, record)
end

function Nested:update(req, customer_id, id)
  if not customer_exists(customer_id) then return errors.not_found(req, customer_id) end
  local record = self:find(customer_id, id)
  if not record then return errors.not_found(req, id) end
  local body, detail = validate.body(req)
  if not body then return errors.bad_request(req, detail) end
  local errs = validate.check(body, self.update_schema, true)
  if #errs > 0 then return errors.invalid(req, errs) end
  local t = json.decode(record, { arrays = true })
  for k, v in pairs(body) do t[k] = v end
  if self.normalize then self.normalize(t) end
  t.updated_at = clock.rfc3339()
  record = json.object(self.fields, t)
  store.put(id, record)
  events.record(self.event .. ".updated", record)
  return envelope(req, 200, record)
end

function Nested:list(req, customer_id)
  if not customer_exists(customer_id) then return errors.not_found(req, customer_id) end
  local errs = {}
  local wanted = listing.status_arg(req, errs)
  local needle = listing.search_arg(req, errs)
  local searched = self.searched
  return listing.list(req, {
    coll = self:coll(customer_id), prefix = self.prefix,
    candidates = listing.list_arg(req, "id", errs),
    match = function(_, record)
      if not wanted[status_of(record)] then return false end
      if needle then
        local t = json.decode(record, { arrays = true })
        local text = {}
        for _, k in ipairs(searched) do
          if type(t[k]) == "string" then text[#text + 1] = t[k] end
        end
        return find(lower(concat(text, "\n")), needle, 1, true) ~= nil
      end
      return true
    end,
  }, errs, errors.invalid)
end

local text = function(max) return { kind = "string", nullable = true, max = max } end
local CUSTOM_DATA = { kind = "object", nullable = true }

-- A contact's name may be omitted (or null) in a request, but Paddle's
-- answers always hold a string: the emulator writes "" (Paddle's value for
-- it is undocumented).
local function contact_names(t)
  if not json.is_array(t.contacts) then return end
  for _, c in ipairs(t.contacts) do
    if c.name == nil or c.name == null then c.name = "" end
  end
end

local function check_contact(field, v, errs)
  if not json.is_object(v) then
    errs[#errs + 1] = { field = field, message = "must be an object" }
    return
  end
  if v.email == nil then
    errs[#errs + 1] = { field = field .. ".email", message = "must be provided as part of the request" }
  else
    validate.check_value(field .. ".email", v.email, { kind = "string", email = true, max = 320 }, errs)
  end
  if v.name ~= nil then
    validate.check_value(field .. ".name", v.name, { kind = "string", max = 1024, nullable = true }, errs)
  end
  for k in pairs(v) do
    if k ~= "name" and k ~= "email" then
      errs[#errs + 1] = { field = field .. "." .. k, message = "unknown field" }
    end
  end
end

return {
  addresses = new {
    prefix = "add", event = "address",
    fields = { "id", "customer_id", "status", "description", "first_line", "second_line", "city",
      "postal_code", "region", "country_code", "custom_data", "created_at", "updated_at", "import_meta" },
    create_schema = {
      description = text(1024), first_line = text(1024), second_line = text(1024),
      city = text(200), postal_code = text(200), region = text(200),
      country_code = { kind = "string", required = true, pattern = "^%u%u$",
        pattern_message = "must be a supported two-letter ISO 3166-1 alpha-2 country code" },
      custom_data = CUSTOM_DATA,
      id = { ignored = true }, import_meta = { ignored = true },
    },
    searched = { "id", "description", "first_line", "second_line", "city", "postal_code", "region",
      "country_code" },
  },
  businesses = new {
    prefix = "biz", event = "business",
    fields = { "id", "customer_id", "status", "name", "company_number", "tax_identifier", "contacts",
      "custom_data", "created_at", "updated_at", "import_meta" },
    create_schema = {
      name = { kind = "string", required = true, min = 1, max = 1024 },
      company_number = text(1024), tax_identifier = text(1024),
      contacts = { kind = "array", nullable = true, max = 100, each = check_contact, default = json.array() },
      custom_data = CUSTOM_DATA,
      id = { ignored = true }, import_meta = { ignored = true },
    },
    searched = { "id", "name", "company_number", "tax_identifier" },
    normalize = contact_names,
  },
}
