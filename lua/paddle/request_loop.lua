-- The request loop: pacing, attempts, retries and waits of one call, within
-- the call's time budget. It takes everything it uses as arguments (the C
-- session for the policy, a transport, a clock, a limiter), so a spec can
-- drive every rule with a fake transport and a fake clock, without a server.
--
--   run(ctx, method, url, body, compressed)
--     -> status, body, request_id, attempts
--     -> nil, err
--
-- ctx = {
--   session,            -- core.session: decide(), acquire(), the 429 block
--   transport,          -- send(session, method, url, body, timeout, compressed)
--   now, sleep,         -- the clock: seconds; sleep(s) returns true when interrupted
--   limiter,            -- limiter:acquire(now) -> wait, why; limiter:share_block(seconds)
--   timeout,            -- seconds for the whole call
--   attempt_timeout,    -- seconds for one attempt (capped by what is left)
--   max_retry_wait,     -- longest single wait before giving up
--   on_request,         -- optional hook, called after every attempt
-- }
local errors = require "paddle.errors"

local format = string.format
local new_error = errors.new

local _M = {}

-- last: what the last attempt got ({ status, request_id }) when the budget
-- ran out waiting to retry it; wait: the wait that did not fit.
local function timeout_error(ctx, attempts, detail, last, wait)
  return new_error {
    type = "transport_error", code = "timeout", attempts = attempts,
    detail = format("the call's timeout of %g s ran out %s", ctx.timeout, detail),
    status = last and last.status, request_id = last and last.request_id,
    retry_after = last and wait or nil,
  }
end

local function interrupted_error(attempts)
  return new_error {
    type = "transport_error", code = "interrupted", attempts = attempts,
    detail = "interrupted by a signal",
  }
end

-- Waits `wait` seconds unless that would pass the deadline.
-- Returns nil when the wait was made, else an error.
local function wait_within(ctx, deadline, wait, attempts, what, last)
  if ctx.now() + wait > deadline then
    return timeout_error(ctx, attempts, format("(%s would need %.3g s more)", what, wait), last, wait)
  end
  if ctx.sleep(wait) then return interrupted_error(attempts) end
  return nil
end

local function report(ctx, method, url, attempt, started, status, code, request_id, retry_in)
  ctx.on_request {
    method = method, url = url, attempt = attempt, transport = ctx.transport.name,
    status = status, error = code, request_id = request_id, duration = ctx.now() - started,
    retry_in = retry_in,
  }
end

local function too_many(wait, attempts)
  return new_error {
    type = "api_error", code = "too_many_requests", status = 429,
    detail = format("still blocked by Paddle after an earlier 429 for %.0f s", wait),
    retry_after = wait, attempts = attempts,
  }
end

-- What a finished attempt leaves for the caller when it is not retried.
local function failure_of(status, code, detail, attempts)
  if status then return nil end
  return new_error { type = "transport_error", code = code, detail = detail, attempts = attempts }
end

-- One attempt: sends and asks the session what next.
-- Returns action, delay, status, body|code, request_id|detail, retry_after|sent.
local function attempt_once(ctx, deadline, method, url, body, compressed, attempt, t)
  local session, now = ctx.session, ctx.now
  local left = deadline - t
  local timeout = ctx.attempt_timeout < left and ctx.attempt_timeout or left
  local status, a, b, c = ctx.transport.send(session, method, url, body, timeout, compressed)
  local action, delay
  if status and status < 429 then
    action = "done" -- never retried: skip the policy call
  elseif status then
    action, delay = session:decide(method, attempt, status, nil, false, c, now())
  elseif a == "interrupted" then
    action = "done"
  else
    action, delay = session:decide(method, attempt, nil, a, c, nil, now())
  end
  return action, delay, status, a, b, c
end

function _M.run(ctx, method, url, body, compressed)
  local now, limiter = ctx.now, ctx.limiter
  local t = now() -- read once per turn: the limiter, the deadline and the attempt share it
  local deadline = t + ctx.timeout
  local attempt = 0
  while true do
    local wait, why = limiter:acquire(t)
    if wait > 0 then
      if why == "blocked" and wait > ctx.max_retry_wait then return nil, too_many(wait, attempt) end
      local err = wait_within(ctx, deadline, wait, attempt, why == "blocked" and "the 429 block" or "pacing")
      if err then return nil, err end
      t = now()
    else
      attempt = attempt + 1
      local started = t
      local action, delay, status, a, b, c =
        attempt_once(ctx, deadline, method, url, body, compressed, attempt, t)
      if status == 429 then -- the session has set the block: every sharer waits it out
        limiter:share_block(ctx.session:blocked_until() - now())
      end
      if ctx.on_request then
        report(ctx, method, url, attempt, started, status, not status and a or nil,
          status and b or nil, action == "retry" and delay or nil)
      end
      if action == "retry" then
        local last = failure_of(status, a, b, attempt) or { status = status, request_id = b }
        local err = wait_within(ctx, deadline, delay, attempt, "waiting to retry", last)
        if err then
          -- Out of time: report what the last attempt got, not only the budget.
          if not status then err.detail = err.detail .. "; last attempt: " .. a .. ": " .. b end
          return nil, err
        end
        t = now()
      elseif not status then
        return nil, failure_of(status, a, b, attempt)
      else
        -- status, body, request_id, attempts; a 429 given up on carries its wait
        return status, a, b, attempt, action == "give_up" and delay or nil, c
      end
    end
  end
end

return _M
