#!/usr/bin/env bash
# Soak run (issue 12 item 11; not in CI): the default training model for ITERS iterations (default
# 20000), logging every EVERY (default 1000) iterations with RSS, heap after a full GC, open file
# descriptors and live threads (metrics.jsonl: rss_mib, heap_after_gc_mib, open_fds, threads), then
# a table of those figures and their first-to-last change. Flat columns mean nothing leaks.
#   [JAVA_OPTS=...] tools/soak.sh [ITERS] [EVERY] [WORK_DIR]   e.g. tools/soak.sh 200 50 /tmp/soak (smoke run)
set -euo pipefail
cd "$(dirname "$0")/.."
iters=${1:-20000}
every=${2:-1000}
work=${3:-work_dirs/soak}
jar=target/leanseg.jar
[ -f "$jar" ] || mvn -B -q -DskipTests package
mkdir -p "$(dirname "$work")"
cp "$jar" "$work.jar" # a rebuild of target/ during the run must not pull the jar from under it
# JAVA_OPTS, e.g. -Dleanseg.threads=1 on a shared machine
java ${JAVA_OPTS:-} -Dleanseg.gcAtLog=true -jar "$work.jar" train --device cpu --overwrite \
  --set work_dir="$work" --set name=soak --set train.iters="$iters" --set train.log_interval="$every" \
  --set train.checkpoint_interval="$every" --set train.eval_interval=0 > "$work.stdout" 2>&1 || { tail -5 "$work.stdout"; exit 1; }
python3 - "$work/soak/metrics.jsonl" <<'PY'
import json, sys
rows = [r for r in map(json.loads, open(sys.argv[1])) if r.get("type") == "train"]
keys = ["rss_mib", "heap_after_gc_mib", "open_fds", "threads", "os_threads"]
print("| iter | time | " + " | ".join(keys) + " |")
print("|---" * (len(keys) + 2) + "|")
for r in rows:
    print("| %d | %s | " % (r["iter"], r.get("time", "-")) + " | ".join(str(r.get(k, "-")) for k in keys) + " |")
first, last = rows[0], rows[-1]
print("change from iteration %d to %d: " % (first["iter"], last["iter"])
      + ", ".join("%s %+d" % (k, last[k] - first[k]) for k in keys if k in first and k in last))
PY
