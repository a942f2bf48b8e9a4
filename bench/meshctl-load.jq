# The figures bench/run.sh keeps from one `meshctl load --json` report.
# $client_us: the CPU time (user + system) the load tool used, in µs.
{
  tool: "meshctl load",
  rate: .throughput_rps,
  calls: .requests.completed,
  # errors include timeouts and requests never sent.
  failed: .requests.errors,
  p50_us: .latency_us.p50,
  p99_us: .latency_us.p99,
  client_cpu_us: $client_us,
  # Every call the tool sent, warm-up included, as its CPU time is.
  client_calls: (.requests.sent + .requests.warmup)
}
