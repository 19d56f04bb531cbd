-- POSTs orders with a unique Idempotency-Key per request and prints the responses by status at the end.
-- usage: wrk -t2 -c64 -d10s -s scripts/wrk/orders.lua http://127.0.0.1:5080 -- ga,vip [event]
-- Ticket type ids come as arguments (wrk has no other way in that works the same on every machine).

local buyers = dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "buyers.lua")
local threads = buyers.threads
setup = buyers.setup

function init(args)
  types = {}
  for type_id in string.gmatch(args[1] or "ga", "[^,]+") do table.insert(types, type_id) end
  path = "/api/events/" .. (args[2] or "festival") .. "/orders"
  sent, statuses = 0, {}
  math.randomseed(os.time() + id)
end

function request()
  sent = sent + 1
  return buyers.order(path, types[math.random(#types)], math.random(4), sent)
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
  local totals, codes = {}, {}
  for _, thread in ipairs(threads) do
    for status, count in pairs(thread:get("statuses")) do
      if not totals[status] then table.insert(codes, status) end
      totals[status] = (totals[status] or 0) + count
    end
  end
  table.sort(codes)
  io.write("responses by status:\n")
  for _, status in ipairs(codes) do io.write(string.format("  %d: %d\n", status, totals[status])) end
end
