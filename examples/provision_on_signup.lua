-- Scenarios 1 and 2 of Paddle's customer guide:
--   1. provision a Paddle customer when a user signs up, and store its ctm_ id;
--   2. later, send only the fields that changed, and handle a 404.
--
--   bin/run-demo examples/provision_on_signup.lua      (against the emulator)
--   PADDLE_API_KEY=pdl_sdbx_... lua5.4 examples/provision_on_signup.lua
local paddle = require "paddle"

-- Stand-in for your users table.
local users = {
  { id = 1, email = "sam@example.com", name = "Sam Miller", paddle_customer_id = nil },
  { id = 2, email = "jo@example.com", name = "Jo Brown", paddle_customer_id = nil },
}

-- 1. On signup: get-or-create by email. Safe to retry and safe to run twice
--    concurrently: a 409 race is resolved to the customer that won.
local function provision(user)
  local customer, created = paddle.customers.ensure {
    email = user.email,
    name = user.name,
    custom_data = { app_user_id = tostring(user.id) },
  }
  if not customer then
    return nil, created -- created is the error here: retry later, the signup itself succeeded
  end
  user.paddle_customer_id = customer.id -- store it: every later call needs it
  return customer, created
end

for _, user in ipairs(users) do
  local customer, created = provision(user)
  if customer then
    print(("user %d -> %s (%s)"):format(user.id, customer.id, created and "created" or "already in Paddle"))
  else
    print(("user %d: provisioning failed: %s"):format(user.id, tostring(created)))
  end
end
-- Running it again finds the same customers instead of creating duplicates.
local again, created_again = provision(users[1])
print(("again: %s created=%s"):format(again and again.id, tostring(created_again)))

-- 2. On profile change: send only what changed. nil leaves a field alone;
--    paddle.null clears it.
local function sync_profile(user, changes)
  local fields = {}
  if changes.name ~= nil and changes.name ~= user.name then fields.name = changes.name end
  if changes.email ~= nil and changes.email ~= user.email then fields.email = changes.email end
  if next(fields) == nil then return true end -- nothing to send

  local customer, err = paddle.customers.update(user.paddle_customer_id, fields)
  if customer then
    user.name, user.email = customer.name, customer.email
    return customer
  end
  if err.status == 404 then
    -- The stored id does not exist here (a sandbox id used against production,
    -- say): link the user again by email, then apply the change.
    local relinked, provision_err = provision(user)
    if not relinked then return nil, provision_err end
    customer, err = paddle.customers.update(relinked.id, fields)
    if customer then
      user.name, user.email = customer.name, customer.email
      return customer
    end
  end
  if err.code == "customer_already_exists" then
    return nil, "that email belongs to another Paddle customer"
  end
  return nil, err
end

local updated = assert(sync_profile(users[1], { name = "Sam Miller-Jones" }))
print(("renamed %s to %q"):format(updated.id, updated.name))

-- An id from another environment: 404, handled by provisioning again.
users[2].paddle_customer_id = "ctm_01hv6y1jedq4p1n0yqn5ba3ky4"
local relinked = assert(sync_profile(users[2], { name = "Jo Brown-Anderson" }))
print(("user 2 relinked to %s, name %q"):format(relinked.id, relinked.name))

-- Changing the email to one another customer has: Paddle answers 409.
local ok, why = sync_profile(users[2], { email = "sam@example.com" })
print(("email change refused: %s"):format(ok and "no?" or tostring(why)))
