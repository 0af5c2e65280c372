-- SPDX-License-Identifier: MIT
-- wrk script for the bench harness (bench/peer.py): walks the corpus paths
-- listed one per line in the file given after "--", so every request asks
-- for the next page of the mix (the Django documentation's HTML pages, or
-- the synthetic ones).

local paths = {}
local next_index = 1

function init(args)
  local f = assert(io.open(args[1], "r"))
  for line in f:lines() do
    if #line > 0 then
      paths[#paths + 1] = line
    end
  end
  f:close()
  assert(#paths > 0, "no paths in " .. args[1])
  -- Each wrk thread starts at its own place in the walk.
  next_index = (tonumber(args[2] or "0") % #paths) + 1
end

function request()
  local path = paths[next_index]
  next_index = next_index % #paths + 1
  return wrk.format("GET", path)
end

function done(summary, latency, requests)
  io.write(string.format("fetchbench: %d requests, %d errors (status %d)\n",
    summary.requests, summary.errors.status, summary.errors.status))
end
