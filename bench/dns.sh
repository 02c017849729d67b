# shellcheck shell=bash
# The DNS half of bench/run.sh (sourced by it; uses its BENCH, SVCPLANE, TMP, PIDS, RESULTS,
# stop, log and start_svcplane). For one cluster size: generate the workload, load it into
# svcplane through the API, start `svcplane dns` and every peer on its own loopback port pinned
# to core 0, run the correctness gate, then interleaved dnsperf rounds pinned to core 1.

SERVER_CORE=0
CLIENT_CORE=1

# Set by start_peer for each server (PORT_knot, PID_knot, …); svcplane's are used by name.
PORT_svcplane="" PID_svcplane=""

# Peers that run, in the order of the first round (later rounds rotate it).
DNS_SERVERS=(svcplane knot nsd unbound bind dnsmasq responder)

answer() { # PORT NAME TYPE: the answer's data, if any (dig prints its errors on stdout, as `;;` lines)
    dig @127.0.0.1 -p "$1" +short +tries=1 +time=1 "$2" "$3" 2>/dev/null | grep -v '^;' || true
}

wait_dns() { # NAME PID PORT: until the server answers from both zones
    # A Service A record and a ClusterIP PTR: servers that load zones one after the other
    # (BIND, Knot) answer the first zone while still parsing the second on the shared core,
    # which would starve the servers asked next.
    local name=$1 pid=$2 port=$3
    for _ in $(seq 1500); do
        if [[ -n $(answer "$port" svc-0.ns-0.svc.cluster.local A) &&
            -n $(answer "$port" 0.1.96.10.in-addr.arpa PTR) ]]; then
            return 0
        fi
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.2
    done
    echo "$name did not start answering on port $port; its log:" >&2
    tail -20 "$DNSDIR/$name.log" >&2
    return 1
}

pinned() { # start a server on the server core; sets LAST_PID
    taskset -c "$SERVER_CORE" "$@" >>"$DNSDIR/$CURRENT.log" 2>&1 &
    LAST_PID=$!
    PIDS+=("$LAST_PID")
}

start_peer() { # NAME: writes its config into $DNSDIR/NAME, starts it, sets PORT_<NAME>, PID_<NAME>
    local name=$1 port dir
    port=$("$BENCH" free-port)
    dir=$DNSDIR/$name
    mkdir -p "$dir"
    CURRENT=$name
    case $name in
    svcplane)
        pinned env RUST_LOG=warn "$SVCPLANE" dns --kubeconfig "$SVC_KUBECONFIG" \
            --dns-listen "127.0.0.1:$port" --metrics-listen none --dns-upstream none \
            --dns-fallthrough none ;;
    knot)
        cat >"$dir/knot.conf" <<CONF
server:
    rundir: "$dir"
    user: root
    pidfile: "$dir/knot.pid"
    listen: 127.0.0.1@$port
    udp-workers: 1
    tcp-workers: 1
    background-workers: 1
database:
    storage: "$dir"
control:
    listen: "$dir/knot.sock"
log:
  - target: stderr
    any: warning
template:
  - id: default
    storage: "$DNSDIR"
    file: "%s.zone"
    semantic-checks: off
    zonefile-sync: -1
    zonefile-load: whole
    journal-content: none
zone:
  - domain: cluster.local
  - domain: 10.in-addr.arpa
CONF
        pinned knotd -c "$dir/knot.conf" ;;
    nsd)
        # NSD's response rate limiting is on by default in Debian's build: off, to compare.
        cat >"$dir/nsd.conf" <<CONF
server:
    ip-address: 127.0.0.1@$port
    do-ip6: no
    server-count: 1
    username: ""
    chroot: ""
    zonesdir: "$DNSDIR"
    database: ""
    pidfile: "$dir/nsd.pid"
    xfrdfile: "$dir/xfrd.state"
    xfrdir: "$dir"
    zonelistfile: "$dir/zone.list"
    verbosity: 0
    rrl-ratelimit: 0
    rrl-whitelist-ratelimit: 0
remote-control:
    control-enable: no
zone:
    name: cluster.local
    zonefile: cluster.local.zone
zone:
    name: 10.in-addr.arpa
    zonefile: 10.in-addr.arpa.zone
CONF
        pinned nsd -d -c "$dir/nsd.conf" ;;
    unbound)
        cat >"$dir/unbound.conf" <<CONF
server:
    interface: 127.0.0.1@$port
    port: $port
    do-ip6: no
    do-daemonize: no
    num-threads: 1
    username: ""
    chroot: ""
    directory: "$dir"
    pidfile: "$dir/unbound.pid"
    use-syslog: no
    logfile: ""
    verbosity: 0
    access-control: 127.0.0.0/8 allow
    module-config: "iterator"
    include: "$DNSDIR/unbound-local.conf"
remote-control:
    control-enable: no
CONF
        pinned unbound -d -c "$dir/unbound.conf" ;;
    bind)
        cat >"$dir/named.conf" <<CONF
options {
    directory "$dir";
    pid-file "$dir/named.pid";
    session-keyfile "$dir/session.key";
    managed-keys-directory "$dir";
    listen-on port $port { 127.0.0.1; };
    listen-on-v6 { none; };
    recursion no;
    notify no;
    dnssec-validation no;
    allow-query { any; };
};
controls { };
zone "cluster.local" { type primary; file "$DNSDIR/cluster.local.zone"; };
zone "10.in-addr.arpa" { type primary; file "$DNSDIR/10.in-addr.arpa.zone"; };
CONF
        pinned named -g -n 1 -c "$dir/named.conf" ;;
    dnsmasq)
        # Only local data: names it does not hold in these zones are NXDOMAIN, never forwarded.
        pinned dnsmasq -k --port="$port" --listen-address=127.0.0.1 --bind-interfaces \
            --user=root --group=root --pid-file="$dir/dnsmasq.pid" --no-resolv --no-hosts \
            --addn-hosts="$DNSDIR/dnsmasq.hosts" --conf-file="$DNSDIR/dnsmasq-srv.conf" \
            --local=/cluster.local/ --local=/10.in-addr.arpa/ --local-ttl=5 \
            --dns-forward-max=1000 ;;
    responder)
        pinned "$BENCH" dns-responder --listen "127.0.0.1:$port" ;;
    esac
    printf -v "PORT_$name" '%s' "$port"
    printf -v "PID_$name" '%s' "$LAST_PID"
    wait_dns "$name" "$LAST_PID" "$port"
}

dns_perf() { # NAME LABEL [FLAGS...]
    local name=$1 label=$2 port pid
    shift 2
    port=PORT_$name pid=PID_$name
    "$BENCH" dns-perf --server "$name" --server-pid "${!pid}" --addr "127.0.0.1:${!port}" \
        --services "$DNS_SIZE" --core "$CLIENT_CORE" --json "$RESULTS" --label "$label" "$@"
}

dns_size() { # SERVICES: the whole DNS benchmark at one cluster size
    DNS_SIZE=$1
    DNSDIR=$TMP/dns-$DNS_SIZE
    mkdir -p "$DNSDIR"
    log "DNS, $DNS_SIZE Services: workload, then loading svcplane through the API"
    "$BENCH" dns-workload --services "$DNS_SIZE" --out "$DNSDIR"
    # The API server holds the objects; nothing but this benchmark writes them.
    start_svcplane "$DNSDIR/api" --insecure-http --no-controllers --nodes 0 --dns-listen none
    local api_pid=$SVC_PID started
    "$BENCH" dns-load --url "$SVC_URL" --services "$DNS_SIZE" | tee -a "$TMP/dns-load.txt"

    local name port pid servers=()
    for name in "${DNS_SERVERS[@]}"; do
        if [[ $name == dnsmasq ]] && ((DNS_SIZE > 20000)); then
            # dnsmasq's NXDOMAIN and PTR lookups are linear scans: at this size a 10 s run
            # would measure ~100 qps and the gate alone would take many minutes.
            echo "skipping dnsmasq at $DNS_SIZE Services"
            continue
        fi
        log "starting $name"
        started=$SECONDS
        start_peer "$name"
        echo "$name answers after $((SECONDS - started)) s"
        servers+=("$name")
    done
    # Once more for all, then a pause: nothing may still be loading on the server core when the
    # gate and the rounds start.
    for name in "${servers[@]}"; do
        port=PORT_$name pid=PID_$name
        wait_dns "$name" "${!pid}" "${!port}"
    done
    sleep 5
    "$BENCH" rss --pid "$PID_svcplane" --process "svcplane dns" \
        --label "dns $DNS_SIZE Services, loaded" --json "$RESULTS"

    log "correctness gate ($DNS_SIZE Services)"
    local check=()
    for name in "${servers[@]}"; do
        [[ $name == responder ]] && continue
        port=PORT_$name
        check+=(--server "$name=127.0.0.1:${!port}")
    done
    "$BENCH" dns-check --expected "$DNSDIR/expected.tsv" --services "$DNS_SIZE" \
        --json "$RESULTS" "${check[@]}"

    local round i n=${#servers[@]}
    for round in $(seq "$DNS_ROUNDS"); do
        log "DNS round $round ($DNS_SIZE Services)"
        # Rotate the order each round so that a noisy stretch does not always hit one server.
        for i in $(seq 0 $((n - 1))); do
            name=${servers[$(((i + round - 1) % n))]}
            dns_perf "$name" "round $round" --queries "$DNSDIR/queries.txt" --seconds "$DNS_SECONDS"
        done
    done
    log "latency runs (dnsperf -v), $DNS_SIZE Services"
    for name in "${servers[@]}"; do
        dns_perf "$name" "latency" --queries "$DNSDIR/queries.txt" --seconds "$DNS_LAT_SECONDS" --latency
    done
    log "one query type at a time, $DNS_SIZE Services"
    local kind
    for kind in a headless srv nxdomain ptr; do
        for name in svcplane knot; do
            dns_perf "$name" "per type" --queries "$DNSDIR/queries-$kind.txt" --kind "$kind" \
                --seconds "$DNS_LAT_SECONDS"
        done
    done
    log "propagation: EndpointSlice write to changed answer ($DNS_SIZE Services)"
    "$BENCH" dns-propagation --url "$SVC_URL" --dns "127.0.0.1:$PORT_svcplane" \
        --flips "$DNS_FLIPS" --services "$DNS_SIZE" --json "$RESULTS"
    "$BENCH" rss --pid "$PID_svcplane" --process "svcplane dns" \
        --label "dns $DNS_SIZE Services, after the runs" --json "$RESULTS"

    # Free the memory before the next size.
    for name in "${servers[@]}"; do
        pid=PID_$name
        stop "${!pid}"
    done
    stop "$api_pid"
}

dns_versions() { # one line per peer, for the report
    local v
    v=$(dpkg-query -W -f='${Version}' knot 2>/dev/null) && echo "Knot DNS $v"
    v=$(dpkg-query -W -f='${Version}' nsd 2>/dev/null) && echo "NSD $v"
    v=$(dpkg-query -W -f='${Version}' unbound 2>/dev/null) && echo "Unbound $v"
    v=$(dpkg-query -W -f='${Version}' bind9 2>/dev/null) && echo "BIND $v"
    v=$(dpkg-query -W -f='${Version}' dnsmasq-base 2>/dev/null) && echo "dnsmasq $v"
    v=$(dpkg-query -W -f='${Version}' dnsperf 2>/dev/null) && echo "dnsperf $v"
    true
}

dns_rss() { # SERVICES PODS: RSS of a synced `svcplane dns` with pods spread over every Service
    local services=$1 pods=$2 port pid api_pid last
    DNSDIR=$TMP/dns-rss-$services
    mkdir -p "$DNSDIR"
    log "DNS memory: $services Services, $pods pods"
    start_svcplane "$DNSDIR/api" --insecure-http --no-controllers --nodes 0 --dns-listen none
    api_pid=$SVC_PID
    "$BENCH" dns-load --url "$SVC_URL" --services "$services" --pods "$pods" |
        tee -a "$TMP/dns-load.txt"
    port=$("$BENCH" free-port)
    CURRENT=svcplane-rss
    RUST_LOG=warn "$SVCPLANE" dns --kubeconfig "$SVC_KUBECONFIG" --dns-listen "127.0.0.1:$port" \
        --metrics-listen none --dns-upstream none --dns-fallthrough none \
        >>"$DNSDIR/$CURRENT.log" 2>&1 &
    pid=$!
    PIDS+=("$pid")
    # The view is published whole once every kind is listed, so the first answer means synced;
    # the last Service's name and a pod PTR show the slices are in too.
    wait_dns "$CURRENT" "$pid" "$port"
    last=$((services - 1))
    for _ in $(seq 300); do
        [[ -n $(answer "$port" "svc-$last.ns-$((last % (services / 100 > 10 ? services / 100 : 10))).svc.cluster.local" A) &&
            -n $(answer "$port" 2.0.244.10.in-addr.arpa PTR) ]] && break
        sleep 0.2
    done
    sleep 5
    "$BENCH" rss --pid "$pid" --process "svcplane dns" \
        --label "dns memory, $services Services, $pods pods" --json "$RESULTS"
    stop "$pid"
    stop "$api_pid"
}
