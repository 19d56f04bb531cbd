# Sourced by the scripts that run whole cold sell-outs one after another.

# cold_sale BENCH LABEL [bench.sh options...]: one sell-out with BENCH (a revision's scripts/bench.sh) and --no-floor.
# Prints "LABEL: <sell-out time>  (<run directory>)" and leaves the run directory in $sale_dir. A failed run ends the
# calling script, after the run's last lines.
cold_sale() {
    local bench=$1 label=$2 output
    shift 2
    output="$("$bench" --no-floor "$@" 2>&1)" || { echo "$output" | tail -20 >&2; echo "$label failed" >&2; exit 1; }
    sale_dir="$(sed -nE 's/^details +//p' <<<"$output")"
    echo "$label: $(echo "$output" | grep 'time to sell out' | sed 's/ *time to sell out *//')  ($sale_dir)"
}
