#!/usr/bin/env bash
# Runs the fuzz targets: fuzz/run.sh [SECONDS_EACH] [TARGET...]
# libFuzzer through cargo-fuzz. The machine has only a stable toolchain;
# RUSTC_BOOTSTRAP=1 lets it accept the -Z flags cargo-fuzz passes (sanitizer,
# coverage). New inputs go to fuzz/corpus/TARGET (not committed); the checked-in
# seeds in fuzz/seeds/TARGET are read, never written. A crash leaves its input in
# fuzz/artifacts/TARGET and makes this script exit non-zero.
set -euo pipefail
cd "$(dirname "$0")"
seconds=${1:-60}
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    targets=(http_head http_reader terminator xmlrpc_call xmlrpc_response xmlrpc_differential gzip_request http_channel)
fi
export RUSTC_BOOTSTRAP=1
cargo fuzz build -O
status=0
for target in "${targets[@]}"; do
    mkdir -p "corpus/$target"
    echo "== fuzz $target for ${seconds}s"
    if ! cargo fuzz run -O "$target" "corpus/$target" "seeds/$target" -- \
        -max_total_time="$seconds" -print_final_stats=1 2>"corpus/$target.log"; then
        echo "!! $target FAILED; see fuzz/artifacts/$target and fuzz/corpus/$target.log"
        tail -40 "corpus/$target.log"
        status=1
    else
        grep -E "^Done|stat::number_of_executed_units|stat::new_units_added" "corpus/$target.log" || true
    fi
done
exit $status
