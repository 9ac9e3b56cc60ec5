# shellcheck shell=bash disable=SC2034
# Shared by Scripts/testenv/{up,down,adduser}. Sourced, not run.
# Ports and names; each can be overridden from the environment.

: "${DIALTONE_TEST_SERVER:=127.0.0.1}"
: "${DIALTONE_TEST_DOMAIN:=dialtone.test}"
: "${DIALTONE_TEST_UPLOAD_DOMAIN:=upload.${DIALTONE_TEST_DOMAIN}}"
# A second host without offline storage (mod_offline): what arrived while a client was away
# reaches it only through its archive (MAM), as on servers that run no offline storage.
: "${DIALTONE_TEST_ARCHIVE_ONLY_DOMAIN:=archive-only.${DIALTONE_TEST_DOMAIN}}"
: "${DIALTONE_TEST_PORT:=25222}"              # c2s, STARTTLS
: "${DIALTONE_TEST_TLS_PORT:=25223}"          # c2s, direct TLS (XEP-0368)
: "${DIALTONE_TEST_COMPONENT_PORT:=25347}"    # XEP-0114 components
: "${DIALTONE_TEST_COMPONENT_DOMAIN:=gateway.${DIALTONE_TEST_DOMAIN}}"
: "${DIALTONE_TEST_COMPONENT_SECRET:=gateway-secret}"
: "${DIALTONE_TEST_MUC_DOMAIN:=rooms.${DIALTONE_TEST_DOMAIN}}" # XEP-0045 group chats, with their archive
: "${DIALTONE_TEST_HTTP_PORT:=25280}"
: "${DIALTONE_TEST_HTTPS_PORT:=25281}"
: "${DIALTONE_TEST_TURN_PORT:=23478}"         # coturn, UDP and TCP
: "${DIALTONE_TEST_TURN_TLS_PORT:=$((DIALTONE_TEST_TURN_PORT + 10))}" # coturn over TLS
: "${DIALTONE_TEST_TURN_SECRET:=turn-secret}"
: "${DIALTONE_TEST_TURN_MIN_PORT:=49160}"     # coturn relay range
: "${DIALTONE_TEST_TURN_MAX_PORT:=49359}"
: "${DIALTONE_TEST_PASSWORD_HASH:=SHA-1}"     # SHA-1 (Prosody's default) or SHA-256
: "${DIALTONE_TEST_PROSODY_LOG_LEVEL:=info}"  # debug to see every stanza
: "${DIALTONE_TEST_USERS:=alice bob carol dave mallory}"

testenv_die() {
	echo "testenv: $*" >&2
	exit 1
}

# testenv_dir DIR: absolute path of DIR (which must exist).
testenv_dir() {
	[[ -n "${1:-}" ]] || testenv_die "usage: $(basename "$0") DIR"
	[[ -d "$1" ]] || testenv_die "no such directory: $1"
	(cd "$1" && pwd -P)
}

# testenv_pid_alive PID DIR: true if PID runs and was started for DIR
# (its command line names DIR), so a recycled pid is never signalled.
testenv_pid_alive() {
	local pid=$1 dir=$2 cmdline
	[[ "$pid" =~ ^[0-9]+$ ]] || return 1
	[[ -r /proc/$pid/cmdline ]] || return 1
	cmdline=$(tr '\0' ' ' </proc/"$pid"/cmdline 2>/dev/null) || return 1
	[[ "$cmdline" == *"$dir/"* ]]
}

# testenv_port_busy PROTO PORT: true if something listens on 127.0.0.1:PORT
# (or on every address).
testenv_port_busy() {
	local proto=$1 port=$2
	if command -v ss >/dev/null 2>&1; then
		[[ -n "$(ss -Hln"${proto:0:1}" "sport = :$port" 2>/dev/null)" ]]
	elif [[ $proto == tcp ]]; then
		(exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null
	else
		return 1
	fi
}

# testenv_tcp_open PORT: true if 127.0.0.1:PORT accepts a connection.
testenv_tcp_open() {
	(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

testenv_log_tail() {
	local f=$1 n=${2:-40}
	if [[ -s "$f" ]]; then
		echo "---- last $n lines of $f ----" >&2
		tail -n "$n" "$f" >&2
		echo "----" >&2
	fi
}

# testenv_remove_data DIR: remove DIR/data, and its tmpfs target if it is a
# symlink that up made into /dev/shm.
testenv_remove_data() {
	local data=$1/data target
	if [[ -L "$data" ]]; then
		target=$(readlink "$data")
		[[ "$target" == /dev/shm/dialtone-testenv.* ]] && rm -rf -- "$target"
		rm -f -- "$data"
	else
		rm -rf -- "$data"
	fi
}

TESTENV_HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
