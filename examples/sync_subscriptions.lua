-- Scenario 3 of Paddle's customer guide: keep your copy of each customer's
-- subscription status in sync with Paddle, by listing (webhooks push the same
-- changes; this is the polling fallback and the nightly reconciliation).
--
--   bin/run-demo examples/sync_subscriptions.lua       (against the emulator)
--   PADDLE_API_KEY=pdl_sdbx_... lua5.4 examples/sync_subscriptions.lua
local paddle = require "paddle"

-- Stand-in for your tables: users with their Paddle customer id, and the
-- subscription status you grant access by.
local users = {}
local access = {} -- [subscription id] = { user = ..., status = ... }

local customer = assert(paddle.customers.ensure { email = "sync@example.com", name = "Sync Demo" })
users[1] = { id = 1, paddle_customer_id = customer.id }

-- Emulator only: subscriptions come from checkouts in Paddle; the local
-- emulator makes some through its admin API so there is something to sync.
local base_url = paddle.default_client().base_url
if base_url:find("^https?://127%.0%.0%.1[:/]") or base_url:find("^https?://localhost[:/]") then
  local request = paddle.default_client().request
  for _, status in ipairs { "active", "past_due", "canceled" } do
    local body = { customer_id = customer.id, status = status }
    assert(request("POST", "/__mock/subscriptions", { body = body }))
  end
end

-- The sync: one lazy iterator per customer; a failure mid-way yields
-- false, err once, so a partial sync is never mistaken for a complete one.
local function sync(user)
  local seen, changed = {}, 0
  for subscription, err in paddle.customers.subscriptions(user.paddle_customer_id, { per_page = 50 }) do
    if subscription == false then return nil, err end
    seen[subscription.id] = true
    local row = access[subscription.id]
    if not row or row.status ~= subscription.status then
      access[subscription.id] = { user = user.id, status = subscription.status,
        next_billed_at = subscription.next_billed_at }
      changed = changed + 1
    end
  end
  return seen, changed
end

for _, user in ipairs(users) do
  local seen, changed = sync(user)
  if not seen then
    print(("user %d: sync failed, keeping the old state: %s"):format(user.id, tostring(changed)))
  else
    print(("user %d: %d subscription(s) changed"):format(user.id, changed))
    for id in pairs(seen) do
      local row = access[id]
      local grants = row.status == "active" or row.status == "trialing" or row.status == "past_due"
      print(("  %s %-9s access=%s"):format(id, row.status, grants and "yes" or "no"))
    end
  end
end

-- Only active and past_due ones, filtered by Paddle (comma-joined on the wire):
local live = 0
for s, err in paddle.subscriptions.list { customer_id = customer.id, status = { "active", "past_due" } } do
  if s == false then error(tostring(err)) end
  live = live + 1
end
print(("%d live subscription(s) for %s"):format(live, customer.id))
