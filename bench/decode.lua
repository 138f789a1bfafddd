-- bench/decode.lua (run by bench/bench-decode): CPU of what the client does
-- with a 200-customer page (paddle.json.decode with keep_null = false: null
-- as nil, whole numbers as integers under 5.4) over plain cjson.decode of
-- the same page, in interleaved blocks so both see the same machine.
-- Prints the ratio.
local cjson = require "cjson"
local json = require "paddle.json"
local page = require("page")(200)
local plain_decode, clock = cjson.decode, os.clock
local decode = json.decode
local AS_VALUES = { keep_null = false } -- what paddle.response passes
local BLOCK, BLOCKS = 25, tonumber(os.getenv("BENCH_DECODE_BLOCKS") or 40)

local sample = decode(page, AS_VALUES)
assert(#sample.data == 200 and sample.data[200].import_meta == nil)
local plain, ours = 0, 0
for _ = 1, BLOCKS do
  local t = clock()
  for _ = 1, BLOCK do plain_decode(page) end
  local t2 = clock()
  for _ = 1, BLOCK do decode(page, AS_VALUES) end
  local t3 = clock()
  plain, ours = plain + (t2 - t), ours + (t3 - t2)
end
print(string.format("ratio=%.4f decode_us=%.1f", ours / plain, plain / (BLOCK * BLOCKS) * 1e6))
