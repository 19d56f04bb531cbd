#!/usr/bin/env bash
# A private PostgreSQL 15 for development: data under <repo>/.pgdata (git-ignored), listening on
# 127.0.0.1 only, trust authentication. Not for anything but a developer machine.
#
# usage: scripts/postgres.sh start|stop|restart|status|url|bin|psql [ARGS...]
#   restart [immediate]  stop (fast, or immediate: like a crash, recovery on start) and start again
#   bin                  print the folder the server's tools are taken from (below)
#   psql ARGS            run psql as the superuser against the "postgres" database
#   PGPORT            port for "start" (default 15432; later commands reuse the started port). Keep it below the
#                     kernel's ephemeral range (32768 and up here): a load test's client sockets take ports there, and
#                     one lingering in TIME_WAIT on the server's port makes its start fail ("Address already in use").
#   PGDATA_ROOT       folder for the server's files (default <repo>/.pgdata), so scripts can run their own server
#   POSTGRES_BIN_DIR  folder with initdb/pg_ctl/psql (default /usr/lib/postgresql/15/bin, else the folder that the
#                     initdb on PATH resolves to)
#   POSTGRES_SETTINGS more lines for the server's settings file, e.g. POSTGRES_SETTINGS=$'shared_buffers = 512MB' (a
#                     benchmark trying the server's tuning); fsync and synchronous_commit stay on whatever it says.
#                     Read by "start" only when it starts the server (a running one keeps its settings)
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
base_dir="${PGDATA_ROOT:-${repo_root}/.pgdata}"
data_dir="${base_dir}/data"
log_file="${base_dir}/server.log"
settings_file="${data_dir}/orleanstickets.conf"
# The tools' folder, as the tests find it: POSTGRES_BIN_DIR, Debian's folder, or the folder initdb on PATH links to.
default_bin_dir=/usr/lib/postgresql/15/bin
if [[ ! -x $default_bin_dir/initdb ]] && command -v initdb >/dev/null; then
    default_bin_dir="$(dirname "$(readlink -f "$(command -v initdb)")")"
fi
bin_dir="${POSTGRES_BIN_DIR:-$default_bin_dir}"
database="orleanstickets"
superuser="postgres"

die() { echo "postgres.sh: $*" >&2; exit 1; }

# PostgreSQL refuses to run as root, so root hands the folder to the postgres user and runs the
# server tools as that user.
as_server_user() {
    if [[ "$(id -u)" == 0 ]]; then
        runuser -u "${superuser}" -- "$@"
    else
        "$@"
    fi
}

# The port of the last start wins over PGPORT, so "url" and "status" describe the running server.
port() {
    if [[ -f "${settings_file}" ]]; then
        sed -n 's/^port = \([0-9]*\)$/\1/p' "${settings_file}"
    else
        echo "${PGPORT:-15432}"
    fi
}

url() { echo "Host=127.0.0.1;Port=$(port);Username=${superuser};Database=${database}"; }

is_running() { [[ -d "${data_dir}" ]] && as_server_user "${bin_dir}/pg_ctl" -D "${data_dir}" status >/dev/null 2>&1; }

psql_admin() { "${bin_dir}/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$(port)" -U "${superuser}" -d postgres "$@"; }

init_cluster() {
    mkdir -p "${base_dir}"
    if [[ "$(id -u)" == 0 ]]; then
        chown "${superuser}:${superuser}" "${base_dir}"
    fi
    as_server_user "${bin_dir}/initdb" -D "${data_dir}" --auth=trust -U "${superuser}" \
        --encoding=UTF8 --locale=C >/dev/null
    echo "include_if_exists = 'orleanstickets.conf'" | as_server_user tee -a "${data_dir}/postgresql.conf" >/dev/null
}

start() {
    [[ -x "${bin_dir}/initdb" ]] || die "PostgreSQL binaries not found in ${bin_dir} (set POSTGRES_BIN_DIR)"
    if is_running; then
        url
        return
    fi
    [[ -f "${data_dir}/PG_VERSION" ]] || init_cluster

    # Rewritten on every start so PGPORT can move the server; the socket stays out of /var/run.
    as_server_user tee "${settings_file}" >/dev/null <<CONF
listen_addresses = '127.0.0.1'
port = ${PGPORT:-15432}
unix_socket_directories = '${data_dir}'
max_connections = 300
${POSTGRES_SETTINGS:-}
fsync = on
synchronous_commit = on
CONF
    as_server_user "${bin_dir}/pg_ctl" -D "${data_dir}" -l "${log_file}" -w -t 60 start >/dev/null \
        || die "server did not start; see ${log_file}"

    if [[ -z "$(psql_admin -tA -c "SELECT 1 FROM pg_database WHERE datname = '${database}'")" ]]; then
        psql_admin -c "CREATE DATABASE ${database} ENCODING 'UTF8'"
    fi
    url
}

stop() {
    if is_running; then
        as_server_user "${bin_dir}/pg_ctl" -D "${data_dir}" -m fast -w stop >/dev/null
        echo "stopped"
    else
        echo "not running"
    fi
}

restart() {
    is_running || die "not running"
    as_server_user "${bin_dir}/pg_ctl" -D "${data_dir}" -m "${1:-fast}" -w stop >/dev/null
    as_server_user "${bin_dir}/pg_ctl" -D "${data_dir}" -l "${log_file}" -w -t 60 start >/dev/null \
        || die "server did not start; see ${log_file}"
    echo "restarted (${1:-fast})"
}

status() {
    if is_running; then
        echo "running: $(url)"
    else
        echo "not running"
        return 3
    fi
}

# The server user cannot always read the caller's working folder; tools complain when it cannot.
cd /

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    restart) restart "${2:-fast}" ;;
    status) status ;;
    url) url ;;
    bin) echo "${bin_dir}" ;;
    psql) shift; psql_admin "$@" ;;
    *) echo "usage: $0 start|stop|restart|status|url|bin|psql" >&2; exit 2 ;;
esac
