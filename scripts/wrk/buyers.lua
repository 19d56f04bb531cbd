-- What the wrk scripts that buy share (loaded with dofile by orders.lua and sellout.lua): an id for the run, so a
-- rerun's keys never replay the previous run's orders, numbered threads, so keys never collide between them, and
-- the order request itself.
local buyers = { threads = {} }

local uuid = io.open("/proc/sys/kernel/random/uuid")
buyers.run = uuid and uuid:read("*l") or tostring(os.time())
if uuid then uuid:close() end

-- wrk's setup hook: runs in the main state once per thread.
function buyers.setup(thread)
  table.insert(buyers.threads, thread)
  thread:set("id", #buyers.threads)
  thread:set("run", buyers.run)
end

-- Request n of this thread: an order for quantity tickets of type_id, with a buyer and an Idempotency-Key no
-- other request of the run has (id and run are the thread's, from setup). wrk cannot tell which request an answer
-- belongs to, so the buyer states the request: its name "Wrk Buyer T-N asks for 3 ga", its address "wrk-T-N@...".
-- The service stores the buyer with the order and echoes it, and the load generator's verify mode compares each
-- answer with the request its buyer states and fails a request answered twice
-- (tests/OrleansTickets.LoadGenerator/Verification/StatedRequest.cs).
function buyers.order(path, type_id, quantity, n)
  local buyer = id .. "-" .. n
  local body = string.format(
    '{"ticketTypeId":"%s","quantity":%d,"buyer":{"name":"Wrk Buyer %s asks for %d %s","email":"wrk-%s@example.test"}}',
    type_id, quantity, buyer, quantity, type_id, buyer)
  return wrk.format("POST", path,
    { ["Content-Type"] = "application/json", ["Idempotency-Key"] = "wrk-" .. run .. "-" .. buyer }, body)
end

return buyers
