-- wrk script: a Claude Code-shaped Messages request (bench/proxy/claude_body.py) read from
-- BENCH_BODY, sent to BENCH_PATH (default /v1/messages) with the key in BENCH_KEY.
local f = assert(io.open(os.getenv("BENCH_BODY"), "rb"))
wrk.body = f:read("*a")
f:close()
wrk.method = "POST"
wrk.path = os.getenv("BENCH_PATH") or "/v1/messages"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["anthropic-version"] = "2023-06-01"
wrk.headers["x-api-key"] = os.getenv("BENCH_KEY") or "none"
