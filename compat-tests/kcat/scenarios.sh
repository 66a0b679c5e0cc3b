#!/usr/bin/env bash
# kcat's scenarios (see ../scenarios.txt). Usage: scenarios.sh RESULTS_FILE
# Each scenario runs in its own process under `timeout` (scenarios.sh --one ID OUT); it appends one
# JSON line per scenario to RESULTS_FILE. kcat is a command-line tool: every step below is one
# kcat process, so "the client stays usable" means the next kcat command works.
# Reads are from absolute offsets (-o 0) on fresh topics unless a scenario is about offset
# lookup (ListOffsets): offsets_for_times, empty_topic and the group scenarios.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
B=${GREGOR_BOOTSTRAP:?GREGOR_BOOTSTRAP is not set}
PFX=${GREGOR_PREFIX:-kcat-}
export KCAT_RUNID=${KCAT_RUNID:-$(date +%s)}
CHECK=(python3 "$here/check.py")

# ---------------------------------------------------------------------------------------------
# One scenario (child process).

emit() { "${CHECK[@]}" result "$SID" "$1" "$2" >"$OUT"; exit 0; }
pass() { emit pass "$1"; }
fail() { emit fail "$1"; }
unsupported() { emit unsupported "$1"; }
# kcat, bounded; KT seconds (default 30).
kc() { timeout -k 2 "${KT:-30}" kcat -b "$B" "$@"; }
topic() { echo "${PFX}$1-$KCAT_RUNID"; }
now_ms() { python3 -c 'import time; print(int(time.time() * 1000))'; }
# the offset in `kcat -Q -J` output: {"<topic>": {"topic": "<topic>", "0": {"partition": 0, "offset": N}}}
qoffset() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]]["0"]["offset"])' "$1" "$2" 2>/dev/null; }
# last error line kcat printed, for details
err() { grep -E 'ERROR|rror|timed out' "$1" 2>/dev/null | tail -n 1 | cut -c1-200; }

sc_metadata() {
  local t; t=$(topic metadata)
  printf 'k\tv\n' | kc -P -t "$t" -K '\t' -q 2>"$W/p.err" || fail "produce (auto-creating $t) failed: $(err "$W/p.err")"
  kc -L -J -d metadata,broker,generic >"$W/md.json" 2>"$W/md.err" || fail "kcat -L failed: $(err "$W/md.err")"
  python3 - "$W/md.json" "$W/md.err" "$B" "$t" >"$W/d" <<'EOF' || fail "$(cat "$W/d")"
import json, re, sys
md = json.load(open(sys.argv[1])); log = open(sys.argv[2]).read(); boot, topic = sys.argv[3], sys.argv[4]
brokers = {b["id"]: b["name"] for b in md["brokers"]}
if list(brokers.values()) != [boot]:
    print("brokers %r, expected one at %s" % (brokers, boot)); sys.exit(1)
if md.get("controllerid") not in brokers:
    print("controller id %r is not a listed broker" % md.get("controllerid")); sys.exit(1)
topics = {t["topic"]: t for t in md["topics"]}
if topic not in topics or topics[topic].get("error"):
    print("topic %s not listed (or with an error): %r" % (topic, topics.get(topic))); sys.exit(1)
parts = topics[topic]["partitions"]
if not parts or any(p["leader"] not in brokers for p in parts):
    print("partitions of %s: %r" % (topic, parts)); sys.exit(1)
ids = set(re.findall(r'ClusterId update "[^"]*" -> "([^"]+)"', log))
if len(ids) != 1:
    print("cluster id seen by librdkafka: %r" % ids); sys.exit(1)
print("broker %s (id %s, controller %s); %d topics listed incl. %s (%d partition(s)); cluster id %s "
      "(kcat shows it only in librdkafka's debug log)" % (boot, list(brokers)[0], md["controllerid"],
      len(topics), topic, len(parts), ids.pop()))
EOF
  pass "$(cat "$W/d")"
}

sc_create_topic() { unsupported "kcat has no admin commands (cannot create a topic with partitions or configs)"; }
sc_delete_topic() { unsupported "kcat has no admin commands (cannot delete a topic)"; }
sc_create_partitions() { unsupported "kcat has no admin commands (cannot add partitions)"; }

produce_consume() {
  local codec=$1 t; t=$(topic "pc-$codec")
  "${CHECK[@]}" gen 1000 "$codec" >"$W/in"
  kc -P -t "$t" -K '\t' -X compression.codec="$codec" -X linger.ms=20 -q <"$W/in" 2>"$W/p.err" ||
    fail "$codec: produce failed: $(err "$W/p.err")"
  kc -C -t "$t" -o 0 -e -J -q >"$W/out" 2>"$W/c.err" || fail "$codec: consume failed: $(err "$W/c.err")"
  local d; d=$("${CHECK[@]}" same "$W/in" "$W/out") && pass "$codec: $d" || fail "$codec: $d"
}
sc_produce_consume_none() { produce_consume none; }
sc_produce_consume_gzip() { produce_consume gzip; }
sc_produce_consume_snappy() { produce_consume snappy; }
sc_produce_consume_lz4() { produce_consume lz4; }
sc_produce_consume_zstd() { produce_consume zstd; }

sc_keys_headers_timestamps() {
  local t; t=$(topic khts)
  local t0 t1
  t0=$(now_ms)
  # kcat puts the same headers on every record of one run: a repeated key, a null value (-H name
  # without '='), an empty value, a value with spaces and '='.
  printf 'key-1\tvalue-1\nkey-2\tvalue-2\n' |
    kc -P -t "$t" -p 0 -K '\t' -H h1=a -H h1=b -H hnull -H hempty= -H 'h sp=x y=z' -q 2>"$W/p.err" ||
    fail "produce failed: $(err "$W/p.err")"
  # -Z: an empty key or value is sent as null (a tombstone for the value).
  printf '\tnull-key\nnull-value\t\n' | kc -P -t "$t" -p 0 -K '\t' -Z -q 2>"$W/p.err" ||
    fail "produce (null key/value) failed: $(err "$W/p.err")"
  printf '\tempty-key\nempty-value\t\n' | kc -P -t "$t" -p 0 -K '\t' -q 2>"$W/p.err" ||
    fail "produce (empty key/value) failed: $(err "$W/p.err")"
  t1=$(now_ms)
  kc -C -t "$t" -o 0 -e -J -q >"$W/out" 2>"$W/c.err" || fail "consume failed: $(err "$W/c.err")"
  python3 - "$W/out" "$t0" "$t1" >"$W/d" <<'EOF' || fail "$(cat "$W/d")"
import json, sys
got = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
t0, t1 = int(sys.argv[2]), int(sys.argv[3])
hdrs = ["h1", "a", "h1", "b", "hnull", None, "hempty", "", "h sp", "x y=z"]
want = [("key-1", "value-1", hdrs), ("key-2", "value-2", hdrs), (None, "null-key", None),
        ("null-value", None, None), ("", "empty-key", None), ("empty-value", "", None)]
if len(got) != len(want):
    print("read %d records, wrote %d" % (len(got), len(want))); sys.exit(1)
for i, (g, (k, v, h)) in enumerate(zip(got, want)):
    if g["offset"] != i or g["key"] != k or g["payload"] != v or g.get("headers") != h:
        print("offset %d: read key %r value %r headers %r, wrote %r %r %r"
              % (g["offset"], g["key"], g["payload"], g.get("headers"), k, v, h)); sys.exit(1)
    if g["tstype"] != "create" or not (t0 <= g["ts"] <= t1):
        print("offset %d: timestamp %s %s, produced between %d and %d" % (i, g["tstype"], g["ts"], t0, t1)); sys.exit(1)
print("keys (incl. null and empty), values (incl. null and empty), headers (repeated key, null, empty "
      "values; in order) and CreateTime timestamps read back equal; kcat cannot set an explicit "
      "timestamp, so the producer's own CreateTime is checked (within the produce window)")
EOF
  pass "$(cat "$W/d")"
}

sc_log_append_time() {
  unsupported "needs a topic with message.timestamp.type=LogAppendTime: kcat cannot create topics with configs nor alter configs"
}

acks() {
  local a=$1 t; t=$(topic "acks$a")
  "${CHECK[@]}" gen 200 "acks$a" >"$W/in"
  kc -P -t "$t" -p 0 -K '\t' -X acks="$a" -v -v <"$W/in" 2>"$W/p.err" >/dev/null ||
    fail "acks=$a: produce failed: $(err "$W/p.err")"
  kc -C -t "$t" -o 0 -e -J -q >"$W/out" 2>"$W/c.err" || fail "acks=$a: consume failed: $(err "$W/c.err")"
  local d
  if [[ $a == 0 ]]; then
    d=$("${CHECK[@]}" same "$W/in" "$W/out") && pass "acks=0: $d" || fail "acks=0: $d"
  fi
  d=$("${CHECK[@]}" same "$W/in" "$W/out") || fail "acks=$a: $d"
  d=$("${CHECK[@]}" acked "$W/in" "$W/p.err" "$W/out") && pass "acks=$a: $d" || fail "acks=$a: $d"
}
sc_acks_0() { acks 0; }
sc_acks_1() { acks 1; }
sc_acks_all() { acks all; }

sc_partitioner() {
  unsupported "needs a multi-partition topic: kcat cannot create one (no admin commands) and auto-created topics get num.partitions=1"
}

sc_offsets_for_times() {
  local t; t=$(topic oft)
  local i
  for i in 0 1 2; do
    "${CHECK[@]}" gen 10 "oft$i" >"$W/in$i"
    kc -P -t "$t" -p 0 -K '\t' -q <"$W/in$i" 2>"$W/p.err" || fail "produce failed: $(err "$W/p.err")"
    sleep 0.05
  done
  kc -C -t "$t" -o 0 -e -J -q >"$W/out" 2>"$W/c.err" || fail "consume failed: $(err "$W/c.err")"
  cat "$W/in0" "$W/in1" "$W/in2" >"$W/in"
  local d; d=$("${CHECK[@]}" same "$W/in" "$W/out") || fail "read back: $d"
  # Queries: before everything, each record's own timestamp, one ms after it, beyond the end.
  python3 - "$W/out" "$t" >"$W/queries" <<'EOF'
import json, sys
ts = [json.loads(l)["ts"] for l in open(sys.argv[1]) if l.startswith("{")]
qs = sorted({ts[0] - 1000, ts[5], ts[10], ts[10] - 1, ts[19] + 1, ts[25], ts[-1], ts[-1] + 1, ts[-1] + 60000})
for q in qs:
    later = [o for o, t in enumerate(ts) if t >= q]
    print(q, later[0] if later else -1)
EOF
  # One query per kcat run: kcat -Q allows each partition once per run.
  local q want got n=0
  while read -r q want; do
    kc -Q -t "$t:0:$q" -J >"$W/q.json" 2>"$W/q.err" || fail "kcat -Q $t:0:$q failed: $(err "$W/q.err")"
    got=$(qoffset "$W/q.json" "$t") || fail "kcat -Q output: $(cut -c1-200 "$W/q.json")"
    [[ $got == "$want" ]] || fail "offset for timestamp $q: $got, expected $want (first record at or after it; -1: none)"
    n=$((n + 1))
  done <"$W/queries"
  echo "$n timestamp queries (before the first record, each record's own timestamp, between batches, beyond the last: -1) answered with the first offset at or after them" >"$W/d"
  pass "$(cat "$W/d")"
}

sc_seek() {
  local t; t=$(topic seek)
  "${CHECK[@]}" gen 100 seek >"$W/in"
  kc -P -t "$t" -p 0 -K '\t' -q <"$W/in" 2>"$W/p.err" || fail "produce failed: $(err "$W/p.err")"
  kc -C -t "$t" -p 0 -o 57 -e -J -q >"$W/out" 2>"$W/c.err" || fail "consume from 57 failed: $(err "$W/c.err")"
  tail -n +58 "$W/in" >"$W/in57"
  local d; d=$("${CHECK[@]}" same "$W/in57" "$W/out" 57) || fail "from offset 57: $d"
  kc -C -t "$t" -p 0 -o 99 -e -J -q >"$W/out" 2>"$W/c.err" || fail "consume from 99 failed: $(err "$W/c.err")"
  tail -n 1 "$W/in" >"$W/in99"
  "${CHECK[@]}" same "$W/in99" "$W/out" 99 >"$W/d2" || fail "from offset 99: $(cat "$W/d2")"
  pass "from offset 57: $d; from 99: the last record only"
}

# Balanced consumer (-G): librdkafka's default auto commit; kcat commits what it delivered when it
# closes (also on -e / -c exit).
group_read() { # group, topic, out, extra args...
  local g=$1 t=$2 out=$3 rc=0; shift 3
  KT=${KT:-40} kc -G "$g" -X auto.offset.reset=earliest -X session.timeout.ms=6000 -J -q "$@" "$t" >"$out" 2>"$W/g.err" || rc=$?
  if ((rc == 124)); then
    echo "% timed out after ${KT:-40} s with $(grep -c '^{' "$out") records read (kcat -G never reached the end of its partitions)" >>"$W/g.err"
  fi
  return $rc
}

sc_group_consume_commit() {
  local t g; t=$(topic gcc); g=$(topic gcc-group)
  "${CHECK[@]}" gen 100 gcc1 >"$W/in1"
  kc -P -t "$t" -p 0 -K '\t' -q <"$W/in1" 2>"$W/p.err" || fail "produce failed: $(err "$W/p.err")"
  group_read "$g" "$t" "$W/out1" -e || fail "first member (-e): kcat exited $?: $(err "$W/g.err")"
  local d; d=$("${CHECK[@]}" same "$W/in1" "$W/out1") || fail "first member: $d"
  "${CHECK[@]}" gen 10 gcc2 >"$W/in2"
  kc -P -t "$t" -p 0 -K '\t' -q <"$W/in2" 2>"$W/p.err" || fail "produce failed: $(err "$W/p.err")"
  group_read "$g" "$t" "$W/out2" -e || fail "second member (-e): kcat exited $?: $(err "$W/g.err")"
  local d2; d2=$("${CHECK[@]}" same "$W/in2" "$W/out2" 100) || fail "second member (expected only the 10 records after the commit at 100): $d2"
  pass "first member: $d; its commit on close held: a new member read only the 10 later records"
}

sc_group_rebalance() {
  unsupported "needs a 6-partition topic: kcat cannot create one (no admin commands; auto-created topics get num.partitions=1)"
}

sc_group_resume_after_restart() {
  local t g; t=$(topic gra); g=$(topic gra-group)
  "${CHECK[@]}" gen 100 gra >"$W/in"
  kc -P -t "$t" -p 0 -K '\t' -q <"$W/in" 2>"$W/p.err" || fail "produce failed: $(err "$W/p.err")"
  group_read "$g" "$t" "$W/out1" -c 50 || fail "first member (-c 50): kcat exited $?: $(err "$W/g.err")"
  head -n 50 "$W/in" >"$W/in1"
  local d; d=$("${CHECK[@]}" same "$W/in1" "$W/out1") || fail "first half: $d"
  ${GREGOR_CTL:?GREGOR_CTL is not set} restart >"$W/ctl.log" 2>&1 || fail "broker restart failed: $(tail -n 1 "$W/ctl.log")"
  group_read "$g" "$t" "$W/out2" -e || fail "member after restart (-e): kcat exited $?: $(err "$W/g.err")"
  tail -n +51 "$W/in" >"$W/in2"
  local d2; d2=$("${CHECK[@]}" same "$W/in2" "$W/out2" 50) || fail "after restart (expected offsets 50..99): $d2"
  pass "committed 50 of 100 (kcat -c 50 commits on close), broker restarted, a new member resumed at 50: $d2"
}

sc_admin_groups() { unsupported "kcat has no group administration (list/describe/delete groups)"; }
sc_admin_configs() { unsupported "kcat has no DescribeConfigs command"; }
sc_commit_unknown_topic() {
  unsupported "kcat commits only what its balanced consumer (-G) consumed from assigned partitions: it cannot commit an explicit partition list or alter a group's offsets"
}
sc_static_member_expiry() {
  unsupported "kcat -G can be a static member (-X group.instance.id), but kcat has no DeleteGroups or DescribeGroups, so the members' expiry cannot be observed"
}
sc_describe_group_configs() { unsupported "kcat has no DescribeConfigs or IncrementalAlterConfigs command"; }
sc_authorized_operations() {
  unsupported "kcat has no describe topics/cluster/groups command with include_authorized_operations (kcat -L sends Metadata without it)"
}

sc_idempotent_producer() {
  local t; t=$(topic idem)
  "${CHECK[@]}" gen 1000 idem >"$W/in"
  kc -P -t "$t" -p 0 -K '\t' -X enable.idempotence=true -X linger.ms=5 -X batch.num.messages=50 -v -v <"$W/in" 2>"$W/p.err" >/dev/null ||
    fail "produce failed: $(err "$W/p.err")"
  grep -q "ERROR\|Delivery failed" "$W/p.err" && fail "produce reported: $(err "$W/p.err")"
  kc -C -t "$t" -o 0 -e -J -q >"$W/out" 2>"$W/c.err" || fail "consume failed: $(err "$W/c.err")"
  local d; d=$("${CHECK[@]}" same "$W/in" "$W/out") || fail "$d"
  d=$("${CHECK[@]}" acked "$W/in" "$W/p.err" "$W/out") || fail "$d"
  pass "enable.idempotence=true, batches of 50: $d; each read once, in order"
}

sc_large_records() {
  local t; t=$(topic large)
  python3 -c 'import random; r = random.Random(7); print("".join(r.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(1000000)), end="")' >"$W/big"
  python3 -c 'print("y" * 1100000, end="")' >"$W/huge"
  # librdkafka's own message.max.bytes (1000000) would refuse both client-side; raise it so that
  # the broker decides.
  kc -P -t "$t" -p 0 -X message.max.bytes=2000000 "$W/big" 2>"$W/p.err" || fail "producing 1,000,000 bytes failed: $(err "$W/p.err")"
  kc -C -t "$t" -p 0 -o 0 -c 1 -e -f '%s' -q >"$W/bigout" 2>"$W/c.err" || fail "consume failed: $(err "$W/c.err")"
  cmp -s "$W/big" "$W/bigout" || fail "the 1,000,000-byte value read back differs ($(stat -c %s "$W/bigout") bytes read)"
  local rc=0
  kc -P -t "$t" -p 0 -X message.max.bytes=2000000 "$W/huge" 2>"$W/h.err" || rc=$?
  if ! grep -qi "too large" "$W/h.err"; then
    fail "a 1,100,000-byte value was not refused as too large (kcat exit $rc): $(tail -n 1 "$W/h.err")"
  fi
  kc -C -t "$t" -p 0 -o 0 -e -f '%o %S\n' -q >"$W/offs" 2>"$W/c.err" || fail "consume failed: $(err "$W/c.err")"
  [[ $(cat "$W/offs") == "0 1000000" ]] || fail "after the refused record the partition holds: $(tr '\n' ' ' <"$W/offs")"
  pass "1,000,000-byte value read back equal; 1,100,000 bytes refused: $(grep -i 'too large' "$W/h.err" | tail -n 1 | cut -c1-120) (kcat exit $rc)"
}

sc_empty_topic() {
  local t; t=$(topic empty)
  # kcat -L -t creates the topic (librdkafka asks for auto-creation in its Metadata request).
  kc -L -t "$t" -J >"$W/md.json" 2>"$W/md.err" || fail "kcat -L -t failed: $(err "$W/md.err")"
  python3 -c 'import json,sys; t=json.load(open(sys.argv[1]))["topics"][0]; sys.exit(1 if t.get("error") or not t["partitions"] else 0)' "$W/md.json" ||
    fail "topic not created by metadata: $(cut -c1-200 "$W/md.json")"
  # Watermarks: kcat -Q with the logical timestamps -2 (earliest) and -1 (latest).
  kc -Q -t "$t:0:-2" -J >"$W/lo.json" 2>"$W/q.err" || fail "kcat -Q (earliest) failed: $(err "$W/q.err")"
  kc -Q -t "$t:0:-1" -J >"$W/hi.json" 2>"$W/q.err" || fail "kcat -Q (latest) failed: $(err "$W/q.err")"
  local lo hi
  lo=$(qoffset "$W/lo.json" "$t") || fail "kcat -Q output: $(cut -c1-200 "$W/lo.json")"
  hi=$(qoffset "$W/hi.json" "$t") || fail "kcat -Q output: $(cut -c1-200 "$W/hi.json")"
  [[ $lo == 0 && $hi == 0 ]] || fail "watermarks $lo/$hi, expected 0/0"
  kc -C -t "$t" -o beginning -e -J >"$W/out" 2>"$W/c.err" || fail "consume (-o beginning -e) failed: $(err "$W/c.err")"
  [[ ! -s $W/out ]] || fail "read records from an empty topic: $(head -c 200 "$W/out")"
  grep -q ERROR "$W/c.err" && fail "consumer error: $(err "$W/c.err")"
  pass "watermarks 0/0 (kcat -Q -2/-1); consuming from the beginning with -e read nothing and exited cleanly"
}

sc_nonexistent_topic() {
  local t; t=$(topic nosuch)
  kc -L -t "$t" -J -X allow.auto.create.topics=false >"$W/md.json" 2>"$W/md.err" || fail "kcat -L -t failed: $(err "$W/md.err")"
  local e; e=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["topics"][0].get("error", ""))' "$W/md.json") ||
    fail "kcat -L output: $(cut -c1-200 "$W/md.json")"
  [[ $e == *"Unknown topic"* ]] || fail "metadata for a missing topic: error '$e', expected unknown topic ($(cut -c1-200 "$W/md.json"))"
  kc -L -J >"$W/all.json" 2>"$W/md.err" || fail "kcat -L (all topics) failed afterwards: $(err "$W/md.err")"
  python3 -c 'import json,sys; sys.exit(1 if sys.argv[2] in [t["topic"] for t in json.load(open(sys.argv[1]))["topics"]] else 0)' "$W/all.json" "$t" ||
    fail "the topic was created although auto-creation was off in the request"
  local t2; t2=$(topic after-nosuch)
  printf 'k\tv\n' | kc -P -t "$t2" -K '\t' -q 2>"$W/p.err" || fail "produce afterwards failed: $(err "$W/p.err")"
  kc -C -t "$t2" -o 0 -e -J -q >"$W/out" 2>"$W/c.err" || fail "consume afterwards failed: $(err "$W/c.err")"
  grep -q '"key":"k","payload":"v"' "$W/out" || fail "record produced afterwards not read back: $(head -c 200 "$W/out")"
  pass "metadata (allow.auto.create.topics=false) reports '$e'; the topic was not created; produce/consume afterwards work"
}

sc_many_partitions() {
  unsupported "needs a 100-partition topic: kcat cannot create one (no admin commands; auto-created topics get num.partitions=1)"
}

# ---------------------------------------------------------------------------------------------
# Driver.

if [[ ${1:-} == --one ]]; then
  SID=$2 OUT=$3
  W=$(mktemp -d "${TMPDIR:-/tmp}/kcat-$SID.XXXXXX")
  trap 'rm -rf "$W"' EXIT
  "sc_$SID"
  fail "scenario ended without a result"
fi

results=${1:?usage: scenarios.sh RESULTS_FILE}
scenario_seconds() {
  case $1 in
    group_*) echo 100 ;;
    *) echo 60 ;;
  esac
}
ids=$(grep -v '^#' "$here/../scenarios.txt" | cut -d'|' -f1 | tr -d ' ' | grep -v '^$')
# The harness gives a client 420 s: scenarios share a budget, so that a hanging broker makes the
# remaining scenarios fail instead of the whole run timing out.
deadline=$(($(date +%s) + ${KCAT_BUDGET_SECONDS:-360}))
for id in $ids; do
  out=$(mktemp)
  s=$(date +%s)
  limit=$(scenario_seconds "$id")
  left=$((deadline - s))
  if ((left < 5)); then
    "${CHECK[@]}" result "$id" fail "not run: the suite's time budget is spent (earlier scenarios timed out)" >>"$results"
    rm -f "$out"
    continue
  fi
  ((left < limit)) && limit=$left
  timeout -k 5 "$limit" "$0" --one "$id" "$out"
  rc=$?
  if [[ -s $out ]]; then
    cat "$out" >>"$results"
  elif ((rc == 124 || rc == 137)); then
    "${CHECK[@]}" result "$id" fail "timed out after $limit s" >>"$results"
  else
    "${CHECK[@]}" result "$id" fail "scenario crashed (exit $rc) without a result" >>"$results"
  fi
  echo "kcat: $id $(python3 -c 'import json,sys; print(json.loads(open(sys.argv[1]).read() or "{}").get("status", "-"))' "$out" 2>/dev/null) ($(($(date +%s) - s)) s)"
  rm -f "$out"
done
exit 0
