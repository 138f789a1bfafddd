-- The event stream, listed by GET /events (after, order_by, per_page;
-- event_type as a filter): customer, address and business created/updated
-- (archiving and unarchiving are updates), subscription.created and
-- payment_method.saved for what the admin API makes, payment_method.deleted;
-- seeding records events only when asked (events: true).
local clock = require "paddle_mock.clock"
local errors = require "paddle_mock.errors"
local json = require "paddle.json"
local listing = require "paddle_mock.listing"
local store = require "paddle_mock.store"

local ipairs = ipairs

local _M = {}

local COLL = "evt"

-- entity_json is the entity exactly as the API returned it.
function _M.record(event_type, entity_json)
  store.insert("evt", { COLL }, function(id)
    return '{"event_id":"' .. id .. '","event_type":' .. json.string(event_type)
      .. ',"occurred_at":"' .. clock.rfc3339() .. '","data":' .. entity_json .. "}"
  end)
end

function _M.list(req)
  local errs = {}
  local types = listing.list_arg(req, "event_type", errs)
  local spec = { coll = COLL }
  if types then
    local wanted = {}
    for _, t in ipairs(types) do wanted['"event_type":"' .. t .. '"'] = true end
    spec.match = function(_, record)
      local tag = record:match('^{"event_id":"[^"]*",("event_type":"[^"]*")')
      return tag ~= nil and wanted[tag] == true
    end
  else
    spec.total = store.count(COLL)
  end
  return listing.list(req, spec, errs, errors.invalid)
end

return _M
