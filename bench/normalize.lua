-- bench/normalize.lua (run by bench/bench-normalize): CPU of cjson.decode +
-- core.normalize of a 200-customer page over plain cjson.decode, measured in
-- interleaved blocks so both see the same machine. Prints the ratio.
local cjson = require "cjson"
local core = require "paddle.core"
local page = require("page")(200)
local decode, normalize, clock = cjson.decode, core.normalize, os.clock
local BLOCK, BLOCKS = 25, tonumber(os.getenv("BENCH_NORMALIZE_BLOCKS") or 40)

assert(normalize(decode(page)).data[200].import_meta == nil)
local plain, normalized = 0, 0
for _ = 1, BLOCKS do
  local t = clock()
  for _ = 1, BLOCK do decode(page) end
  local t2 = clock()
  for _ = 1, BLOCK do normalize(decode(page)) end
  local t3 = clock()
  plain, normalized = plain + (t2 - t), normalized + (t3 - t2)
end
print(string.format("ratio=%.4f decode_us=%.1f", normalized / plain, plain / (BLOCK * BLOCKS) * 1e6))
