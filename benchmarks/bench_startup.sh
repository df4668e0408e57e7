#!/usr/bin/env bash
# Start-up of the README quick start (issue 9): `genoattn fit` then `genoattn export --plots` on the
# bundled example, for several source trees, interleaved, fresh interpreter each, one thread,
# the encoded-genotype cache removed before every fit (a fresh clone's first run).
#
# usage: benchmarks/bench_startup.sh OUTFILE REPS ROOT:LABEL [ROOT:LABEL ...]
#   ROOT: a checkout of genoattn (run through PYTHONPATH with the active venv), e.g. a
#   `git worktree add --detach /tmp/before f283c14` for the code before the renovation.
# Writes one line per command: label step rep rc wall user sys maxrss_kb load; summarise with
#   python benchmarks/bench_startup_summary.py OUTFILE
set -u
out=$1; reps=$2; shift 2
export OMP_NUM_THREADS=1
one() {  # root label rep
  local root=$1 label=$2 rep=$3 t
  cd "$root" || exit 2
  rm -rf data/example/cohort.vcf.gz.genoattn_cache
  for step in fit export; do
    if [ $step = fit ]; then
      cmd=(genoattn fit --vcf data/example/cohort.vcf.gz --pheno data/example/pheno.tsv
           --covar data/example/covar.tsv --out example_run --overwrite)
    else
      cmd=(genoattn export example_run --out example_run/epistasis.tsv --plots example_run/plots)
    fi
    load=$(cut -d' ' -f1 /proc/loadavg)
    t=$(mktemp)
    PYTHONPATH=$root /usr/bin/time -f "%e %U %S %M" -o "$t" "${cmd[@]}" > /dev/null 2>&1
    rc=$?
    read -r w u s m < <(tail -1 "$t"); rm -f "$t"
    [ "$rep" = 0 ] || echo "$label $step $rep rc=$rc wall=$w user=$u sys=$s maxrss_kb=$m load=$load" >> "$out"
  done
}
for spec in "$@"; do one "${spec%%:*}" "${spec##*:}" 0; done  # warm-up: bytecode, page cache
for r in $(seq 1 "$reps"); do
  for spec in "$@"; do one "${spec%%:*}" "${spec##*:}" "$r"; done
done
