#!/usr/bin/env bash
# setup.sh [DIR] — a throw-away MIT Kerberos realm for amq's GSSAPI test.
#
# Creates (once) the realm AMQ.TEST in DIR (default integration/.peers/kdc,
# which is git-ignored), with the principals alice@AMQ.TEST and
# amqp/localhost@AMQ.TEST, their keytabs, starts krb5kdc on 127.0.0.1:$KDC_PORT
# (default 28088, TCP and UDP, or the next port it can listen on) unless it is
# already running, and gets alice a fresh ticket with kinit into
# DIR/alice.ccache. Idempotent: run it as often as you like; keys are never
# re-randomised once the keytabs exist.
#
# Needs the Debian packages krb5-kdc, krb5-user and krb5-admin-server (only for
# kadmin.local, which edits the database directly; kadmind is never started).
# Nothing outside DIR is
# written: the KDC reads DIR/kdc.conf (KRB5_KDC_PROFILE), clients DIR/krb5.conf
# (KRB5_CONFIG).
#
# On success it prints the environment a client needs, also saved in DIR/env:
#   KRB5_CONFIG=DIR/krb5.conf KRB5CCNAME=FILE:DIR/alice.ccache
#   AMQ_KDC_SERVICE_KEYTAB=DIR/amqp.keytab AMQ_KDC_CLIENT_KEYTAB=DIR/alice.keytab
set -euo pipefail

REALM=AMQ.TEST
# Below Linux's ephemeral range (32768-60999): a port in that range can be
# held by any outgoing connection, or its TIME_WAIT, when the KDC starts.
PORT="${KDC_PORT:-28088}"
DIR="${1:-$(dirname "$0")/../../.peers/kdc}"
mkdir -p "$DIR"
DIR="$(cd "$DIR" && pwd)"
PATH="$PATH:/usr/sbin:/sbin"

for tool in krb5kdc kdb5_util kadmin.local kinit; do
  command -v "$tool" >/dev/null || { echo "setup.sh: $tool not found (apt-get install krb5-kdc krb5-user krb5-admin-server)" >&2; exit 2; }
done

export KRB5_CONFIG="$DIR/krb5.conf"
export KRB5_KDC_PROFILE="$DIR/kdc.conf"

port_in_use() { # something answers a TCP connection on 127.0.0.1:$1
  timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null
}
kdc_up() { # the KDC answers a TCP connection on its port
  port_in_use "$PORT"
}

# write_confs writes DIR/port, krb5.conf (clients) and kdc.conf (the KDC)
# for $PORT.
write_confs() {
  echo "$PORT" >"$DIR/port"
  # udp_preference_limit = 1 makes every client use TCP (gokrb5 honours it).
  cat >"$DIR/krb5.conf.tmp" <<EOF
[libdefaults]
  default_realm = $REALM
  dns_lookup_realm = false
  dns_lookup_kdc = false
  rdns = false
  udp_preference_limit = 1
  default_ccache_name = FILE:$DIR/alice.ccache
[realms]
  $REALM = {
    kdc = 127.0.0.1:$PORT
  }
[domain_realm]
  localhost = $REALM
  .localhost = $REALM
EOF
  mv "$DIR/krb5.conf.tmp" "$DIR/krb5.conf"

  cat >"$DIR/kdc.conf.tmp" <<EOF
[kdcdefaults]
  kdc_listen = 127.0.0.1:$PORT
  kdc_tcp_listen = 127.0.0.1:$PORT
[realms]
  $REALM = {
    database_name = $DIR/principal
    key_stash_file = $DIR/stash
    acl_file = $DIR/kadm5.acl
    max_life = 10h
    max_renewable_life = 1d
    supported_enctypes = aes256-cts-hmac-sha1-96:normal aes128-cts-hmac-sha1-96:normal
  }
[logging]
  kdc = FILE:$DIR/kdc.log
EOF
  mv "$DIR/kdc.conf.tmp" "$DIR/kdc.conf"
}

# next_free_port moves PORT on past ports something listens on (TCP).
next_free_port() {
  local first=$PORT
  while port_in_use "$PORT"; do
    PORT=$((PORT + 1))
    [ "$PORT" -le $((first + 100)) ] || { echo "setup.sh: no free port in $first-$PORT" >&2; exit 1; }
  done
}

# Reuse this DIR's own running KDC and its port; otherwise take the first
# free port from $PORT on: another checkout's KDC (another realm database)
# may hold the default one, and its keys are not ours.
running=
if [ -s "$DIR/kdc.pid" ] && kill -0 "$(cat "$DIR/kdc.pid")" 2>/dev/null && [ -s "$DIR/port" ]; then
  PORT="$(cat "$DIR/port")"
  if kdc_up; then running=1; fi
fi
if [ -z "$running" ]; then
  next_free_port
fi
write_confs
: >"$DIR/kadm5.acl"

if [ ! -e "$DIR/principal" ]; then
  # The master password only protects this throw-away database's stash.
  kdb5_util -r "$REALM" create -s -P "amq-test-master-$RANDOM$RANDOM" >/dev/null
fi

for p in alice "amqp/localhost"; do
  if ! kadmin.local -r "$REALM" -q "getprinc $p" 2>/dev/null | grep -q "^Principal: $p@$REALM"; then
    kadmin.local -r "$REALM" -q "addprinc -randkey $p" >/dev/null
  fi
done
[ -s "$DIR/amqp.keytab" ] || kadmin.local -r "$REALM" -q "ktadd -norandkey -k $DIR/amqp.keytab amqp/localhost" >/dev/null
[ -s "$DIR/alice.keytab" ] || kadmin.local -r "$REALM" -q "ktadd -norandkey -k $DIR/alice.keytab alice" >/dev/null

if [ -z "$running" ]; then
  # krb5kdc exits at once when it cannot bind its port, and daemonises
  # once it listens. The probe above sees only TCP listeners: a port taken
  # over UDP, or by a connection's TIME_WAIT, fails here, and the next
  # one is tried.
  tries=0
  until krb5kdc -r "$REALM" -P "$DIR/kdc.pid"; do
    tries=$((tries + 1))
    [ "$tries" -lt 20 ] || { echo "setup.sh: krb5kdc could not listen on 20 ports up to $PORT; see $DIR/kdc.log" >&2; exit 1; }
    echo "setup.sh: krb5kdc could not listen on 127.0.0.1:$PORT; trying the next port" >&2
    PORT=$((PORT + 1))
    next_free_port
    write_confs
  done
  for _ in $(seq 50); do kdc_up && break; sleep 0.2; done
  kdc_up || { echo "setup.sh: krb5kdc does not listen on 127.0.0.1:$PORT; see $DIR/kdc.log" >&2; exit 1; }
fi

kinit -k -t "$DIR/alice.keytab" -c "FILE:$DIR/alice.ccache" "alice@$REALM"

cat >"$DIR/env" <<EOF
KRB5_CONFIG=$DIR/krb5.conf
KRB5CCNAME=FILE:$DIR/alice.ccache
AMQ_KDC_SERVICE_KEYTAB=$DIR/amqp.keytab
AMQ_KDC_CLIENT_KEYTAB=$DIR/alice.keytab
EOF
cat "$DIR/env"
