# Sourced by the bench scripts: builds amqbench and amqbroker and starts
# the broker. The caller defines log and die, sets REPO and WORK, and
# stops BROKER_PID when it exits.

# build_tools builds amqbench and amqbroker from REPO into WORK.
build_tools() {
  log "building amqbench and amqbroker from $REPO"
  (cd "$REPO" && go build -o "$WORK/amqbench" ./cmd/amqbench && go build -o "$WORK/amqbroker" ./cmd/amqbroker)
}

# start_broker SCHEME starts amqbroker on a free loopback port with no
# queue bounds, sets BROKER_PID, and sets URL to the address it printed.
start_broker() {
  local scheme=$1
  "$WORK/amqbroker" -listen "$scheme://127.0.0.1:0" -allow-anonymous \
    -max-queue-messages -1 -max-queue-bytes -1 >"$WORK/broker.log" 2>&1 &
  BROKER_PID=$!
  URL=
  for _ in $(seq 100); do
    URL=$(sed -n "s/^listening on \\($scheme:\\/\\/[^ ]*\\).*/\\1/p" "$WORK/broker.log" | head -1)
    [ -n "$URL" ] && break
    kill -0 "$BROKER_PID" 2>/dev/null || { cat "$WORK/broker.log" >&2; die "amqbroker exited"; }
    sleep 0.1
  done
  [ -n "$URL" ] || die "amqbroker did not print its URL"
  log "broker $URL (pid $BROKER_PID)"
}
