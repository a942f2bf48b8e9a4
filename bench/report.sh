#!/usr/bin/env bash
# Prints the Markdown report of one bench/run.sh results directory: every
# run, then each target of issue #9 with its measured value, met or not.
#
# Usage: bench/report.sh bench/results/<time>

set -euo pipefail

DIR=${1:?usage: bench/report.sh RESULTS_DIR}
cat "$DIR/machine.txt"
echo

# Every run, keyed by name, plus the memory figures.
jq -n -r --slurpfile memory "$DIR/memory.json" '
  [inputs | select(.name != null) | {(.name): .}] | add as $r
  | $memory[0] as $m
  | def num(d):
      if . == null then "n/a"
      elif d == 0 then round | tostring
      else (if . < 0 then "-" else "" end) as $sign
        | (fabs * pow(10; d) | round) as $x
        | ($x % pow(10; d) | tostring) as $frac
        | "\($sign)\($x / pow(10; d) | floor).\("0" * (d - ($frac | length)) // "")\($frac)"
      end;
    def times(d): if . == null then "n/a" else "\(num(d))×" end;
    def rate(n): $r[n].rate // null;
    def ratio(a; b): if (rate(a) // 0) > 0 and (rate(b) // 0) > 0 then rate(a) / rate(b) else null end;
    def cpu(n): $r[n].server_cpu_us_per_call // null;
    # The throughput ratio a server given a whole core would reach: the
    # inverse ratio of server CPU per call, unmoved by CPU stolen by neighbours.
    def cpu_ratio(a; b): if (cpu(a) // 0) > 0 and (cpu(b) // 0) > 0 then cpu(b) / cpu(a) else null end;
    def baseline(run): if run.tool == "h2load" then "plaintext-h2load" else "plaintext" end;
    def verdict(v; goal; better):
      if v == null then "not measured"
      elif (better == "higher" and v >= goal) or (better == "lower" and v <= goal) then "met"
      else "**not met**" end;
  ([
    "| run | path | tool | calls/s (median) | rounds | × plaintext (same tool) | p50 µs | p99 µs | server CPU µs/call | × plaintext by server CPU | server CPU busy | OK at target (warm-up incl.) / measured calls |",
    "|---|---|---|---:|---|---:|---:|---:|---:|---:|---:|---:|",
    ( ["plaintext", "mtls", "mtls-jwt-uncached", "mtls-jwt", "gateway-grpc", "gateway-rest",
       "gateway-grpc-h2load", "nginx-grpc", "plaintext-h2load", "open-plaintext", "open-mtls-jwt"][]
      | . as $n | $r[$n] // empty
      | "| \($n) | \(.path) | \(.tool) | \(.rate | num(0)) | \(if $n | startswith("open") then "p50 " else "" end)\(.rounds // [] | map(num(0)) | join(", ")) | \(if $n | startswith("open") then "—" else ratio($n; baseline(.)) | num(2) end) | \(.p50_us | num(0)) | \(.p99_us | num(0)) | \(.server_cpu_us_per_call | num(1)) | \(if $n | startswith("open") then "—" else cpu_ratio($n; baseline(.)) | num(2) end) | \(if .server_busy == null then "n/a" else "\(.server_busy * 100 | num(0)) %" end) | \(if .name | test("plaintext") then "—" else "\(.server_ok)" end) / \(.calls) |" )
  ] | join("\n")),
  "",
  ( def best(n): $r[n].rounds // [] | max;
    def best_ratio(a; b): if (best(a) // 0) > 0 and (best(b) // 0) > 0 then best(a) / best(b) else null end;
    def client_per_call(n): if ($r[n].client_calls // 0) > 0 then $r[n].client_cpu_us / $r[n].client_calls else null end;
    # Throughput targets are judged by server CPU per call: on a shared
    # machine the servers do not always get their core (see "server CPU
    # busy"), and on a core of their own CPU per call is what sets calls/s.
    def row(what; a; b; goal):
      cpu_ratio(a; b) as $c
      | "| \(what) | \(ratio(a; b) | times(2)) | \(best_ratio(a; b) | times(2)) | \($c | times(2)) | ≥ \(goal | tostring | if test("[.]") then . else . + ".0" end)× | \(verdict($c; goal; "higher")) |";
    (if (client_per_call("plaintext") // 0) > 0 and (client_per_call("plaintext-h2load") // 0) > 0
     then client_per_call("plaintext-h2load") / client_per_call("plaintext") else null end) as $tool
  | (if $r["open-mtls-jwt"].p50_us != null and $r["open-plaintext"].p50_us != null
     then $r["open-mtls-jwt"].p50_us - $r["open-plaintext"].p50_us else null end) as $added
  | ([$r["open-plaintext"], $r["open-mtls-jwt"]] | map((.rounds // [0]) | max - min) | max) as $spread
  | ($m.gateway_hwm_kib / 1024) as $rss
  | [
    "| target | calls/s ratio (median rounds) | calls/s ratio (best rounds) | server CPU per call ratio (judged) | goal | |",
    "|---|---:|---:|---:|---:|---|",
    row("one secure hop (mTLS + cached JWT + policy) vs plaintext"; "mtls-jwt"; "plaintext"; 0.75),
    row("gRPC through the gateway vs gRPC direct (meshctl load)"; "gateway-grpc"; "mtls-jwt"; 0.6),
    row("REST through the gateway (h2load) vs gRPC direct (meshctl load)"; "gateway-rest"; "mtls-jwt"; 0.4),
    row("our gateway vs nginx gRPC proxy, both gRPC by h2load"; "gateway-grpc-h2load"; "nginx-grpc"; 1.0),
    "| our load tool vs h2load, same endpoint and core (judged: calls per client CPU second) | \(ratio("plaintext"; "plaintext-h2load") | times(2)) | \(best_ratio("plaintext"; "plaintext-h2load") | times(2)) | \($tool | times(2)) (client CPU) | ≥ 1.0× | \(verdict($tool; 1.0; "higher")) |",
    "| p50 added by one secure hop at half of peak (median rounds) | \($added | num(0)) µs | | | ≤ 200 µs | \(if $added != null and $spread > 200 then "inconclusive: p50 moved \($spread | num(0)) µs between rounds" else verdict($added; 200; "lower") end) |",
    "| gateway peak RSS (VmHWM) over its runs | \($rss | num(1)) MiB | | | ≤ 30 MiB | \(verdict($rss; 30; "lower")) |",
    "",
    "Gateway VmRSS after its runs: \($m.gateway_rss_kib / 1024 | num(1)) MiB; nginx (master + worker) VmRSS: \($m.nginx_rss_kib / 1024 | num(1)) MiB.",
    "Client CPU per call on the plaintext endpoint (all calls, warm-up included, and all CPU of the tool): meshctl load \(client_per_call("plaintext") | num(1)) µs, h2load \(client_per_call("plaintext-h2load") | num(1)) µs."
  ] | join("\n"))
' "$DIR"/*.json
