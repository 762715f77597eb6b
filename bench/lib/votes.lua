-- wrk script: POST one vote per request, each from a voter never seen
-- before, so the bench can count rows in Postgres against votes queued.
local threads = 0

function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end

local sent = 0

function request()
  sent = sent + 1
  local choice = (sent % 3 == 0) and "b" or "a"
  return wrk.format("POST", "/", {
    ["Content-Type"] = "application/x-www-form-urlencoded",
    ["Cookie"] = string.format("voter_id=bench%02d%010d", tid, sent),
  }, "vote=" .. choice)
end
