rockspec_format = "3.0"
package = "lua-paddle-mock"
version = "scm-1"

-- `luarocks make lua-paddle-mock-scm-1.rockspec` installs from this checkout.
source = {
  url = "git+https://github.com/lua-paddle/lua-paddle.git",
}

description = {
  summary = "paddle-mock: a local Paddle Billing API emulator (nginx + the Lua module)",
  detailed = [[
bin/paddle-mock serves a local stand-in for the Paddle Billing API
(customers, addresses, businesses, payment methods, subscriptions, events,
portal sessions) from a throwaway nginx prefix, with an admin API for
seeding, faults, rate limits and the request log. It runs on Debian's nginx
with the Lua module (libnginx-mod-http-lua, lua-resty-core), which a rock
cannot declare: install those with the system's package manager.
]],
  license = "MIT",
  labels = { "paddle", "billing", "openresty", "mock", "testing" },
}

-- paddle.json (the JSON codec the emulator shares with the client) comes
-- from lua-paddle. Inside nginx paddle.json decodes with lua-cjson: the
-- rock's paddle.core is built for the Lua that LuaRocks runs, not LuaJIT.
dependencies = {
  "lua >= 5.1",
  "lua-paddle",
  "lua-cjson",
}

-- Not "builtin": that type also copies the whole lua/ directory (the client
-- rock's modules). The emulator's sources live in mock/ so that the client
-- rock, which is builtin, does not pick them up either.
build = {
  type = "none",
  install = {
    lua = {
      -- Lua modules (kept in sync with mock/paddle_mock/ by spec/03-rockspec_spec.lua)
      ["paddle_mock.admin"] = "mock/paddle_mock/admin.lua",
      ["paddle_mock.auth"] = "mock/paddle_mock/auth.lua",
      ["paddle_mock.clock"] = "mock/paddle_mock/clock.lua",
      ["paddle_mock.config"] = "mock/paddle_mock/config.lua",
      ["paddle_mock.customers"] = "mock/paddle_mock/customers.lua",
      ["paddle_mock.errors"] = "mock/paddle_mock/errors.lua",
      ["paddle_mock.events"] = "mock/paddle_mock/events.lua",
      ["paddle_mock.faults"] = "mock/paddle_mock/faults.lua",
      ["paddle_mock.ids"] = "mock/paddle_mock/ids.lua",
      ["paddle_mock.init"] = "mock/paddle_mock/init.lua",
      ["paddle_mock.listing"] = "mock/paddle_mock/listing.lua",
      ["paddle_mock.nested"] = "mock/paddle_mock/nested.lua",
      ["paddle_mock.payment_methods"] = "mock/paddle_mock/payment_methods.lua",
      ["paddle_mock.portal"] = "mock/paddle_mock/portal.lua",
      ["paddle_mock.ratelimit"] = "mock/paddle_mock/ratelimit.lua",
      ["paddle_mock.request"] = "mock/paddle_mock/request.lua",
      ["paddle_mock.requestlog"] = "mock/paddle_mock/requestlog.lua",
      ["paddle_mock.router"] = "mock/paddle_mock/router.lua",
      ["paddle_mock.seed"] = "mock/paddle_mock/seed.lua",
      ["paddle_mock.store"] = "mock/paddle_mock/store.lua",
      ["paddle_mock.subscriptions"] = "mock/paddle_mock/subscriptions.lua",
      ["paddle_mock.validate"] = "mock/paddle_mock/validate.lua",
      -- end of Lua modules
    },
    bin = { "bin/paddle-mock" },
  },
}
