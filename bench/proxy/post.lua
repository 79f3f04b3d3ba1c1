-- wrk script: the same Messages request for every target; the key comes from BENCH_KEY
-- (clown's proxy wants its local token; nginx and the fixed upstream ignore it).
wrk.method = "POST"
wrk.path = "/v1/messages"
wrk.body = '{"model":"claude-sonnet-4","max_tokens":64,"messages":[{"role":"user","content":"say pong"}]}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["anthropic-version"] = "2023-06-01"
wrk.headers["x-api-key"] = os.getenv("BENCH_KEY") or "none"
