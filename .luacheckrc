std = "max"
codes = true
max_line_length = 110
exclude_files = { "build/**", ".luarocks/**", "lua_modules/**" }

files["spec/**"] = { std = "+busted", max_line_length = 130 }
-- Code that runs inside nginx (the emulator, the cosocket transport, examples).
files["mock/**"] = { read_globals = { "ngx" } }
files["lua/paddle/ngx/**"] = { read_globals = { "ngx" } }
files["lua/paddle/transport/ngx.lua"] = { read_globals = { "ngx" } }
files["examples/**"] = { read_globals = { "ngx" } }
files["spec/nginx/**"] = { read_globals = { "ngx" } }
-- LuaLS definitions: empty functions whose arguments document the API.
files["types/**"] = { unused_args = false, unused = false, max_line_length = false }
