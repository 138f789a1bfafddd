-- POST /customers/{id}/portal-sessions: authenticated customer portal links,
-- with per-subscription deep links for up to 25 subscription_ids. Each id
-- must be a subscription of this customer: Paddle does not document the
-- answer otherwise; a 400 naming the item surfaces the client's bug.
local clock = require "paddle_mock.clock"
local errors = require "paddle_mock.errors"
local ids = require "paddle_mock.ids"
local json = require "paddle.json"
local store = require "paddle_mock.store"
local validate = require "paddle_mock.validate"

local concat = table.concat
local find = string.find
local floor = math.floor
local ipairs = ipairs
local type = type

local _M = {}

local PORTAL = "https://sandbox-customer-portal.paddle.com/"

local function check_subscription_id(field, v, errs)
  if type(v) ~= "string" or not find(v, "^sub_[0-9a-z]+$") or #v ~= 30 then
    errs[#errs + 1] = { field = field, message = "must be a valid subscription id (sub_...)" }
  end
end

local SCHEMA = {
  subscription_ids = { kind = "array", max = 25, each = check_subscription_id },
}

function _M.create(req, customer_id)
  if not (find(customer_id, "^ctm_") and store.get(customer_id)) then
    return errors.not_found(req, customer_id)
  end
  local body, detail = validate.body(req, true)
  if not body then return errors.bad_request(req, detail) end
  local errs = validate.check(body, SCHEMA)
  local seen = {}
  for i, s in ipairs(#errs == 0 and body.subscription_ids or {}) do
    local field = "subscription_ids[" .. (i - 1) .. "]"
    if seen[s] then
      errs[#errs + 1] = { field = field, message = "must be unique" }
    else
      local record = store.get(s)
      if not (record and find(record, '"customer_id":"' .. customer_id .. '"', 1, true)) then
        errs[#errs + 1] = { field = field,
          message = "subscription " .. s .. " not found for customer " .. customer_id }
      end
    end
    seen[s] = true
  end
  if #errs > 0 then return errors.invalid(req, errs) end

  local now = clock.now_us()
  local id = ids.make("cpls", floor(now / 1000))
  local base = PORTAL .. "cpl_" .. ids.random_chars(26) .. "?action="
  local token = "&token=pga_" .. ids.random_chars(48)
  local subs = {}
  for i, s in ipairs(body.subscription_ids or {}) do
    subs[i] = json.object({ "id", "cancel_subscription", "update_subscription_payment_method" }, {
      id = s,
      cancel_subscription = base .. "cancel_subscription&subscription_id=" .. s .. token,
      update_subscription_payment_method = base .. "update_subscription_payment_method&subscription_id="
        .. s .. token,
    })
  end
  local urls = '{"general":{"overview":' .. json.string(base .. "overview" .. token)
    .. '},"subscriptions":[' .. concat(subs, ",") .. "]}"
  return 201, '{"data":{"id":"' .. id .. '","customer_id":"' .. customer_id .. '","urls":' .. urls
    .. ',"created_at":"' .. clock.rfc3339(now) .. '"},"meta":{"request_id":"' .. req.request_id .. '"}}'
end

return _M
