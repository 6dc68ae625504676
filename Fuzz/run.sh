#!/usr/bin/env bash
# Runs every fuzz target (or those named) for FUZZ_SECONDS each, starting from the committed
# corpus in a scratch copy. Exits 1 on any finding; the input is left in Fuzz/.work/findings/.
# Each finding becomes a regression input under Fuzz/Regressions/TARGET/, which `make test`
# replays.
set -euo pipefail
cd "$(dirname "$0")"
seconds="${FUZZ_SECONDS:-60}"
targets=("$@")
# Every target by default: one directory each under Targets/.
[ ${#targets[@]} -gt 0 ] || mapfile -t targets < <(ls Targets)

swift build -c release -Xswiftc -sanitize=fuzzer,address -Xswiftc -use-ld=lld 2>&1 | grep -v "Cannot export local symbol" | tail -2
bin="$(swift build -c release -Xswiftc -sanitize=fuzzer,address -Xswiftc -use-ld=lld --show-bin-path)"

mkdir -p .work/findings
status=0
printf '%-14s %12s %10s %8s  %s\n' TARGET EXECUTIONS EXEC/S CORPUS RESULT
for target in "${targets[@]}"; do
  work=".work/corpus/$target"
  mkdir -p "$work"
  cp Corpus/"$target"/* "$work"/
  [ -d Regressions/"$target" ] && cp Regressions/"$target"/* "$work"/
  log=".work/$target.log"
  # -timeout=1: an input taking over a second is a hang; LeakSanitizer reports leaks.
  if SWIFT_BACKTRACE=enable=no "$bin/fuzz-$target" "$work" -max_total_time="$seconds" -timeout=1 \
       -rss_limit_mb=2048 -max_len=65536 -print_final_stats=1 -artifact_prefix=".work/findings/$target-" >"$log" 2>&1; then
    result=ok
  else
    result="FINDING (see $log and .work/findings/)"
    status=1
  fi
  runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo 0)
  speed=$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo 0)
  corpus=$(ls "$work" | wc -l)
  printf '%-14s %12s %10s %8s  %s\n' "$target" "$runs" "$speed" "$corpus" "$result"
done
exit $status
