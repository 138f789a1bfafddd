rockspec_format = "3.0"
package = "lua-paddle"
version = "scm-1"

-- `luarocks make` builds from this checkout; the source URL is only used by
-- `luarocks install` of a published rock.
source = {
  url = "git+https://github.com/lua-paddle/lua-paddle.git",
}

description = {
  summary = "Paddle Billing customers from Lua 5.4 and OpenResty",
  detailed = [[
A small C core (libcurl HTTP, retries with backoff, rate-limit pacing,
webhook HMAC verification with OpenSSL) under a Lua API returning plain
tables: paddle.new{...}.customers.list/get/create/update/ensure, addresses,
businesses, payment methods, subscriptions, events, webhooks. The local
Paddle emulator is a separate rock, lua-paddle-mock.
]],
  license = "MIT",
  labels = { "paddle", "billing", "openresty", "http" },
}

dependencies = {
  "lua >= 5.1", -- JSON is paddle.core's own (csrc/json_decode.c and paddle.json): no lua-cjson
  "argparse", -- the `paddle` command (Debian: lua-argparse)
}

-- Library-only entries: gcc finds curl's multiarch header
-- (/usr/include/x86_64-linux-gnu/curl/curl.h) by itself.
external_dependencies = {
  CURL = { library = "curl" },
  OPENSSL = { library = "crypto" },
}

build = {
  type = "builtin",
  modules = {
    ["paddle.core"] = {
      sources = { "csrc/core.c", "csrc/encoding.c", "csrc/http_head.c", "csrc/ids.c", "csrc/limiter_file.c",
        "csrc/json_decode.c", "csrc/resp.c", "csrc/session.c", "csrc/signature.c", "csrc/webhook.c" },
      defines = { "_POSIX_C_SOURCE=200809L", "_DEFAULT_SOURCE" },
      incdirs = { "csrc", "$(OPENSSL_INCDIR)" },
      libdirs = { "$(OPENSSL_LIBDIR)" },
      libraries = { "crypto" },
    },
    ["paddle.curl"] = {
      sources = { "csrc/curl.c" },
      defines = { "_POSIX_C_SOURCE=200809L", "_DEFAULT_SOURCE" },
      incdirs = { "csrc" },
      libdirs = { "$(CURL_LIBDIR)" },
      libraries = { "curl" },
    },
    -- Lua modules (kept in sync with lua/ by spec/03-rockspec_spec.lua)
    ["paddle.cli"] = "lua/paddle/cli/init.lua",
    ["paddle.cli.events"] = "lua/paddle/cli/events.lua",
    ["paddle.cli.output"] = "lua/paddle/cli/output.lua",
    ["paddle.cli.progress"] = "lua/paddle/cli/progress.lua",
    ["paddle.cli.resources"] = "lua/paddle/cli/resources.lua",
    ["paddle.cli.sync"] = "lua/paddle/cli/sync.lua",
    ["paddle.client"] = "lua/paddle/client.lua",
    ["paddle.csv"] = "lua/paddle/csv.lua",
    ["paddle.errors"] = "lua/paddle/errors.lua",
    ["paddle.ids"] = "lua/paddle/ids.lua",
    ["paddle"] = "lua/paddle/init.lua",
    ["paddle.json"] = "lua/paddle/json.lua",
    ["paddle.limiter"] = "lua/paddle/limiter.lua",
    ["paddle.limiter.file"] = "lua/paddle/limiter/file.lua",
    ["paddle.limiter.redis"] = "lua/paddle/limiter/redis.lua",
    ["paddle.limiter.window"] = "lua/paddle/limiter/window.lua",
    ["paddle.options"] = "lua/paddle/options.lua",
    ["paddle.ngx.http"] = "lua/paddle/ngx/http.lua",
    ["paddle.ngx.limiter"] = "lua/paddle/ngx/limiter.lua",
    ["paddle.ngx.redis"] = "lua/paddle/ngx/redis.lua",
    ["paddle.pager"] = "lua/paddle/pager.lua",
    ["paddle.redis"] = "lua/paddle/redis.lua",
    ["paddle.request_loop"] = "lua/paddle/request_loop.lua",
    ["paddle.resources"] = "lua/paddle/resources.lua",
    ["paddle.response"] = "lua/paddle/response.lua",
    ["paddle.show"] = "lua/paddle/show.lua",
    ["paddle.sync"] = "lua/paddle/sync.lua",
    ["paddle.transport.curl"] = "lua/paddle/transport/curl.lua",
    ["paddle.transport.ngx"] = "lua/paddle/transport/ngx.lua",
    ["paddle.url"] = "lua/paddle/url.lua",
    ["paddle.users"] = "lua/paddle/users.lua",
    ["paddle.webhooks"] = "lua/paddle/webhooks.lua",
    ["paddle.webhooks.dedupe"] = "lua/paddle/webhooks/dedupe.lua",
    -- end of Lua modules
  },
  install = {
    bin = { "bin/paddle" },
  },
}

test = {
  type = "busted",
}
