-- Paddle ids: a prefix, "_" and 26 lowercase letters or digits, e.g.
-- ^ctm_[a-z\d]{26}$ in Paddle's OpenAPI document. Ids are checked before
-- they are put into a URL path, so a malformed one can never change the path.
local core = require "paddle.core"

local rep = string.rep
local type = type

local _M = {}

-- Prefix of each kind of id, keyed by the name Paddle's API gives the id.
_M.PREFIX = {
  customer_id = "ctm",
  address_id = "add",
  business_id = "biz",
  payment_method_id = "paymtd",
  subscription_id = "sub",
  event_id = "evt",
  price_id = "pri",
  product_id = "pro",
  transaction_id = "txn",
  portal_session_id = "cpls",
}

-- What an id is called in messages.
local NOUN = {
  ctm = "customer", add = "address", biz = "business", paymtd = "payment method",
  sub = "subscription", evt = "event", pri = "price", pro = "product", txn = "transaction",
  cpls = "customer portal session",
}

-- valid("ctm", id) -> true when id is a well-formed ctm_ id (checked in C:
-- it runs for every id put into a path, and a pattern costs more).
_M.valid = core.is_id

-- Human description for error messages: 'a customer id (ctm_ + 26 [a-z0-9])'.
function _M.describe(prefix)
  local noun = NOUN[prefix] or prefix
  return (noun:find("^[aeiou]") and "an " or "a ") .. noun .. " id (" .. prefix
    .. "_ followed by 26 lowercase letters or digits)"
end

-- The first id with this prefix found in a text (Paddle names the existing
-- customer in a 409's detail), or nil.
function _M.find(prefix, text)
  if type(text) ~= "string" then return nil end
  return text:match("%f[%w]" .. prefix .. "_" .. rep("[a-z0-9]", 26) .. "%f[^%w]")
end

return _M
