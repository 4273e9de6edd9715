# pg_scratch.sh: sourced by the PostgreSQL bench scripts (pg_write_path.sh,
# pg_statement_cost.sh). pg_scratch_start PREFIX starts a throwaway cluster
# (Debian's newest PostgreSQL, trust auth, a Unix socket in the work
# directory, no TCP) in a new /tmp/PREFIX.XXXXXX, stopped and removed at
# exit; it sets PGBIN and WORK.
pg_scratch_as_pg() { if ((EUID == 0)); then runuser -u postgres -- "$@"; else "$@"; fi; }

pg_scratch_cleanup() {
	pg_scratch_as_pg "$PGBIN/pg_ctl" -D "$WORK/data" -m fast -w stop >/dev/null 2>&1 || true
	rm -rf "$WORK"
}

pg_scratch_start() {
	PGBIN=$(printf '%s\n' /usr/lib/postgresql/*/bin | sort -V | tail -1)
	WORK=$(mktemp -d "/tmp/$1.XXXXXX")
	trap pg_scratch_cleanup EXIT
	((EUID == 0)) && chown postgres "$WORK"
	pg_scratch_as_pg "$PGBIN/initdb" -D "$WORK/data" -A trust -U postgres -E UTF8 --locale=C >/dev/null
	pg_scratch_as_pg "$PGBIN/pg_ctl" -D "$WORK/data" -l "$WORK/log" -w \
		-o "-c listen_addresses='' -c unix_socket_directories='$WORK'" start >/dev/null
}
