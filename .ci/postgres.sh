#!/usr/bin/env bash
# A throwaway PostgreSQL for the contract suite: its own cluster (data under /var/tmp, so the
# machine's own clusters are never touched) on loopback only, on a non-default port, with trust
# authentication and durability off (test data only). Installs Debian's postgresql when missing.
#
# Idempotent and quick on a second run: an initialised data directory is reused and a running
# server is left alone. stdout carries ONLY the `export ...` line for `eval "$(bash .ci/postgres.sh)"`;
# every other message goes to stderr. The tests create (and drop) one database per test session
# on this server, so several test runs can share it.
set -euo pipefail
exec 3>&1 1>&2

listen_host=127.0.0.1
listen_port=55432
base=/var/tmp/mailsleuth-postgres
data_dir=$base/data
log_file=$base/server.log
database=mailsleuth
run_as=postgres

trap 'status=$?; if ((status)); then tail -n 20 "$log_file" 2>/dev/null; fi; exit $status' EXIT

install_postgres() {
    if compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null; then
        return
    fi
    echo "postgres.sh: installing the Debian postgresql package" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql >/dev/null
}

bin_dir() {
    # the newest installed major version
    ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1
}

as_owner() {
    runuser -u "$run_as" -- "$@"
}

# Runs a command that leaves a daemon behind with only stdin, stdout and stderr open. The server
# must not inherit fd 3 (the pipe of the caller's `$(...)`, which would then never see end of file
# and wait for ever — it did on a fresh machine, where the server is started rather than found
# running) nor any other descriptor of whoever runs CI.
detached() {
    (
        for fd in /proc/$BASHPID/fd/*; do
            fd=${fd##*/}
            if ((fd > 2)); then eval "exec $fd>&-"; fi
        done
        exec "$@"
    ) </dev/null
}

initialise() {
    install -d -m 700 -o "$run_as" -g "$run_as" "$base"
    if [[ -f $data_dir/PG_VERSION ]]; then
        return
    fi
    echo "postgres.sh: initialising $data_dir" >&2
    as_owner "$bin/initdb" -D "$data_dir" -U postgres --auth=trust --encoding=UTF8 --locale=C.UTF-8 >/dev/null
    cat >>"$data_dir/postgresql.conf" <<EOF
# Managed by .ci/postgres.sh for mailsleuth's tests: a throwaway instance, speed over durability.
listen_addresses = '$listen_host'
port = $listen_port
unix_socket_directories = '$base'
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 200
shared_buffers = 64MB
EOF
}

start() {
    if as_owner "$bin/pg_ctl" -D "$data_dir" status >/dev/null 2>&1; then
        return
    fi
    detached runuser -u "$run_as" -- "$bin/pg_ctl" -D "$data_dir" -l "$log_file" -w -t 30 start >/dev/null
}

create_database() {
    local exists
    exists=$(as_owner "$bin/psql" -h "$listen_host" -p "$listen_port" -U postgres -d postgres -tAc \
        "SELECT 1 FROM pg_database WHERE datname = '$database'")
    if [[ $exists != 1 ]]; then
        as_owner "$bin/psql" -h "$listen_host" -p "$listen_port" -U postgres -d postgres -qc \
            "CREATE DATABASE $database" >/dev/null
    fi
}

if ((EUID != 0)); then
    echo "postgres.sh: must run as root (it installs a package and runs a server as $run_as)" >&2
    exit 1
fi
install_postgres
bin=$(bin_dir)
initialise
start
create_database
echo "postgres.sh: PostgreSQL $("$bin/postgres" --version | awk '{print $3}') on $listen_host:$listen_port" >&2

printf "export %s='%s'\n" \
    MAILSLEUTH_TEST_POSTGRES_URL "postgresql+asyncpg://postgres@$listen_host:$listen_port/$database" >&3
