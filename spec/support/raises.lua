-- Misuse must raise at the caller's line: a checker that f raises an error
-- blaming the spec file (file_pattern) and matching a pattern.
--
--   local raises = require "support.raises" ("40%-customers_spec%.lua:%d+: ", { plain = true })
--   raises("customer_id must be", function() client.customers.get("ctm_1") end)
--
-- opts.plain: the pattern is plain text; opts.hidden: text the message must
-- not hold (a secret).
local assert = require "luassert"

local pcall = pcall

return function(file_pattern, opts)
  opts = opts or {}
  return function(pattern, f)
    local ok, msg = pcall(f)
    assert.is_false(ok)
    assert.matches(pattern, msg, 1, opts.plain)
    assert.matches(file_pattern, msg) -- blames the spec, not the library
    if opts.hidden then assert.not_matches(opts.hidden, msg, 1, true) end
  end
end
