-- wrk script for the HTTP floor: the same order body the load generator sends, to the bare endpoint.
wrk.method = "POST"
wrk.body = '{"ticketTypeId":"ga","quantity":2,"buyer":{"name":"Buyer 1","email":"buyer-1@example.test"}}'
wrk.headers["Content-Type"] = "application/json"
