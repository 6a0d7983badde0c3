#!/usr/bin/env bash
# A real Postfix for tests/test_postfix.py: a dedicated instance (its own config, queue and log, so a
# machine's own Postfix is never touched) with virtual mailboxes, listening on loopback only, that can
# deliver nowhere but a scratch directory. Installs the Debian package when it is missing.
#
# Idempotent and quick on a second run: files are rewritten (and the instance restarted) only when their
# content changed. stdout carries ONLY `export ...` lines for `eval "$(bash .ci/postfix.sh)"`; every
# other message goes to stderr.
set -euo pipefail
exec 3>&1 1>&2
export PATH="/usr/sbin:/sbin:$PATH"
# Postfix reports into its own log file, not to the terminal: show its end when something failed.
trap 'status=$?; if ((status)); then tail -n 20 "$log_file" 2>/dev/null; fi; exit $status' EXIT

listen_host=127.0.0.1
listen_port=2525
domain=postfix.mailsleuth.test
mailboxes=(jane.doe john.smith)
config_dir=/etc/postfix-mailsleuth
queue_dir=/var/spool/postfix-mailsleuth
data_dir=/var/lib/postfix-mailsleuth
mail_base=/var/tmp/mailsleuth-postfix/vmail
log_file=/var/log/postfix-mailsleuth.log
vmail_id=65534 # nobody/nogroup: owns the scratch mailboxes, never anything else

install_postfix() {
    if dpkg-query -W -f='${Status}' postfix 2>/dev/null | grep -q 'install ok installed'; then
        return
    fi
    echo "postfix.sh: installing the Debian postfix package" >&2
    debconf-set-selections <<EOF
postfix postfix/main_mailer_type select No configuration
postfix postfix/mailname string $domain
EOF
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        -o Dpkg::Options::=--force-confold postfix >/dev/null
}

changed=0
# write_file PATH MODE: replace PATH with stdin when the content differs, and remember that it did.
write_file() {
    local path=$1 mode=$2 content
    content=$(cat)
    if [[ -f $path ]] && [[ $(cat "$path") == "$content" ]]; then
        return
    fi
    printf '%s\n' "$content" >"$path.tmp"
    chmod "$mode" "$path.tmp"
    mv "$path.tmp" "$path"
    changed=1
}

configure() {
    install -d -m 755 "$config_dir" "$queue_dir" "$(dirname "$mail_base")"
    install -d -m 755 -o "$vmail_id" -g "$vmail_id" "$mail_base"

    write_file "$config_dir/main.cf" 644 <<EOF
# Managed by .ci/postfix.sh for mailsleuth's tests: edits here are overwritten.
compatibility_level = 3.6
syslog_name = postfix-mailsleuth
maillog_file = $log_file
queue_directory = $queue_dir
data_directory = $data_dir

# Loopback only, and no DNS: the test machine has no network and needs none.
inet_interfaces = $listen_host
inet_protocols = ipv4
smtp_dns_support_level = disabled
smtpd_peername_lookup = no
myhostname = $domain
mydomain = $domain
myorigin = \$myhostname
mynetworks = 127.0.0.0/8

# Recipients exist only in the virtual mailbox table; nothing is local, nothing relays, nothing leaves.
mydestination =
local_recipient_maps =
alias_maps =
alias_database =
relayhost =
local_transport = error:local delivery is disabled
default_transport = error:outbound mail is disabled
relay_transport = error:outbound mail is disabled
virtual_mailbox_domains = $domain
virtual_mailbox_maps = hash:$config_dir/virtual_mailboxes
virtual_mailbox_base = $mail_base
virtual_uid_maps = static:$vmail_id
virtual_gid_maps = static:$vmail_id
virtual_transport = virtual

# A prober on 127.0.0.1 is welcome; unknown users are refused at RCPT TO, with no tarpit.
smtpd_client_restrictions =
smtpd_helo_restrictions =
smtpd_sender_restrictions =
smtpd_relay_restrictions = reject_unauth_destination
smtpd_recipient_restrictions =
smtpd_reject_unlisted_recipient = yes
smtpd_delay_reject = yes
smtpd_error_sleep_time = 0
biff = no
EOF

    # No chroot (nothing to copy into it) and no smtp/lmtp/local client: only what smtpd and a
    # virtual delivery need.
    write_file "$config_dir/master.cf" 644 <<EOF
# Managed by .ci/postfix.sh for mailsleuth's tests: edits here are overwritten.
$listen_host:$listen_port inet n - n - - smtpd
pickup    unix  n  -  n  60     1  pickup
cleanup   unix  n  -  n  -      0  cleanup
qmgr      unix  n  -  n  300    1  qmgr
rewrite   unix  -  -  n  -      -  trivial-rewrite
bounce    unix  -  -  n  -      0  bounce
defer     unix  -  -  n  -      0  bounce
trace     unix  -  -  n  -      0  bounce
verify    unix  -  -  n  -      1  verify
flush     unix  n  -  n  1000?  0  flush
proxymap  unix  -  -  n  -      -  proxymap
showq     unix  n  -  n  -      -  showq
error     unix  -  -  n  -      -  error
retry     unix  -  -  n  -      -  error
discard   unix  -  -  n  -      -  discard
virtual   unix  -  n  n  -      -  virtual
anvil     unix  -  -  n  -      1  anvil
scache    unix  -  -  n  -      1  scache
postlog   unix-dgram n - n - 1 postlogd
EOF

    local table="" user
    for user in "${mailboxes[@]}"; do
        table+="$user@$domain $domain/$user/"$'\n'
    done
    write_file "$config_dir/virtual_mailboxes" 644 <<<"${table%$'\n'}"
    if [[ $changed == 1 || ! -f $config_dir/virtual_mailboxes.db ]]; then
        postmap -c "$config_dir" "hash:$config_dir/virtual_mailboxes"
    fi

    # The test reads this log: create it world-readable, postlogd then only appends.
    [[ -f $log_file ]] || install -m 644 /dev/null "$log_file"
}

banner_ok() {
    timeout 2 bash -c '
        exec 4<>"/dev/tcp/$1/$2" || exit 1
        IFS= read -r line <&4 || exit 1
        printf "QUIT\r\n" >&4
        [[ $line == 220* ]]' _ "$listen_host" "$listen_port" 2>/dev/null
}

# A full stop/start on any change: reload does not rebind inet_interfaces, and the instance is ours.
start() {
    if postfix -c "$config_dir" status 2>/dev/null; then
        if [[ $changed == 0 ]]; then
            return
        fi
        echo "postfix.sh: configuration changed, restarting" >&2
        postfix -c "$config_dir" stop
    fi
    postfix -c "$config_dir" check # creates the queue's subdirectories with the right owners
    postfix -c "$config_dir" start
}

wait_for_banner() {
    local _
    for _ in $(seq 100); do
        if banner_ok; then
            return
        fi
        sleep 0.1
    done
    echo "postfix.sh: no SMTP banner on $listen_host:$listen_port after 10 s" >&2
    exit 1
}

if ((EUID != 0)); then
    echo "postfix.sh: must run as root (it installs a package and starts a mail system)" >&2
    exit 1
fi
install_postfix
configure
start
wait_for_banner
echo "postfix.sh: Postfix $(postconf -c "$config_dir" -h mail_version) on $listen_host:$listen_port" >&2

mailbox_list=$(printf "%s@$domain," "${mailboxes[@]}")
printf "export %s='%s'\n" \
    MAILSLEUTH_TEST_POSTFIX "$listen_host:$listen_port" \
    MAILSLEUTH_TEST_POSTFIX_DOMAIN "$domain" \
    MAILSLEUTH_TEST_POSTFIX_MAILBOXES "${mailbox_list%,}" \
    MAILSLEUTH_TEST_POSTFIX_CONFIG "$config_dir" >&3
