std = "max"
codes = true
max_line_length = 110
exclude_files = { "build/**", ".luarocks/**", "lua_modules/**" }

files["spec/**"] = { std = "+busted" }
-- Code that runs inside nginx (the emulator, the cosocket transport, examples).
files["mock/**"] = { read_globals = { "ngx" } }
files["lua/paddle/ngx/**"] = { read_globals = { "ngx" } }
files["examples/**"] = { read_globals = { "ngx" } }
files["spec/nginx/**"] = { read_globals = { "ngx" } }
