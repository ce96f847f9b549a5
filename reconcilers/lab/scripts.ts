// The shell that runs inside a Lab machine (pure: text and argument lists). Every step, first boot
// included, is a file under STATE_DIR made once (mkdir is the guard: a second attempt finds the
// directory and does nothing), started once (a second mkdir guard) in its own session, detached
// from the exec that started it, and ended by its own watchdog at its timeout. Its exit code lands
// in a file, so a controller that restarts, or never saw the end, reads the outcome instead of
// running the step again. Contents travel on stdin or base64-encoded, never inside a command line.
import type { LabSpec } from '../../crds/index.ts';

/** Where a machine keeps what Outrigger did to it. */
export const STATE_DIR = '/var/lib/outrigger-lab';
export const FIRST_BOOT = 'first-boot';
/** The exit code of a step its watchdog ended. */
export const TIMED_OUT_EXIT = 124;

export const stepDir = (step: string): string => (step === FIRST_BOOT ? `${STATE_DIR}/${FIRST_BOOT}` : `${STATE_DIR}/provision/${step}`);

/** $1 step dir, $2 owner (root or a user). Stdin: the script. Prints "prepared" or "exists". */
export const PREPARE = [
  'set -eu',
  'dir=$1; owner=$2',
  'umask 022',
  'mkdir -p "${dir%/*}"',
  'if mkdir "$dir" 2>/dev/null; then',
  '  cat > "$dir/script"',
  '  chmod 0700 "$dir/script"',
  '  if [ "$owner" != root ]; then chown -R "$owner" "$dir"; fi',
  '  echo prepared',
  'else',
  '  cat > /dev/null',
  '  echo exists',
  'fi',
].join('\n');

/** Runs detached. $1 step dir, $2 seconds allowed. Writes output, then exit (124 when it ran out of time). */
export const RUNNER = [
  'dir=$1; limit=$2',
  'cd "${HOME:-/}" 2>/dev/null || cd /',
  'if [ "$(head -c 2 "$dir/script")" = "#!" ]; then set -- "$dir/script"; else set -- sh "$dir/script"; fi',
  'if command -v setsid >/dev/null 2>&1; then setsid "$@" > "$dir/output" 2>&1 < /dev/null & else "$@" > "$dir/output" 2>&1 < /dev/null & fi',
  'child=$!',
  '( sleep "$limit"; if [ ! -e "$dir/exit" ]; then : > "$dir/timed-out"; kill -TERM -"$child" 2>/dev/null || kill -TERM "$child" 2>/dev/null; sleep 5; kill -KILL -"$child" 2>/dev/null || kill -KILL "$child" 2>/dev/null; fi ) > /dev/null 2>&1 &',
  'watchdog=$!',
  'wait "$child"; code=$?',
  'if [ -e "$dir/timed-out" ]; then code=124; fi',
  'kill "$watchdog" 2>/dev/null',
  'echo "$code" > "$dir/exit.new" && mv "$dir/exit.new" "$dir/exit"',
].join('\n');

/** As the step's user. $1 step dir, $2 seconds allowed, $3 the runner. Prints "started" or "already". */
export const START = [
  'set -eu',
  'dir=$1; limit=$2; runner=$3',
  'mkdir "$dir/started" 2>/dev/null || { echo already; exit 0; }',
  'date +%s > "$dir/start-time"',
  'if command -v setsid >/dev/null 2>&1; then',
  '  nohup setsid sh -c "$runner" outrigger-step "$dir" "$limit" > /dev/null 2>&1 < /dev/null &',
  'else',
  '  nohup sh -c "$runner" outrigger-step "$dir" "$limit" > /dev/null 2>&1 < /dev/null &',
  'fi',
  'echo $! > "$dir/pid"',
  'echo started',
].join('\n');

/**
 * $1 state dir. One line per step: name|state|start|end, state being exit:<code>, running, lost
 * (its process is gone without an exit code: the machine restarted under it), starting or
 * prepared; then #hostkey|<key> and #passwords|<digest> when known.
 */
export const PROBE = [
  'base=$1',
  'for d in "$base/first-boot" "$base"/provision/*; do',
  '  [ -d "$d" ] || continue',
  '  name=${d##*/}; start=$(cat "$d/start-time" 2>/dev/null || true); end=',
  '  if [ -f "$d/exit" ]; then state="exit:$(cat "$d/exit")"; end=$(stat -c %Y "$d/exit" 2>/dev/null || true)',
  '  elif [ -f "$d/pid" ]; then',
  '    pid=$(cat "$d/pid")',
  '    if [ -r "/proc/$pid/cmdline" ] && tr "\\000" " " < "/proc/$pid/cmdline" | grep -q outrigger-step; then state=running; else state=lost; fi',
  '  elif [ -d "$d/started" ]; then state=starting',
  '  else state=prepared; fi',
  '  printf "%s|%s|%s|%s\\n" "$name" "$state" "$start" "$end"',
  'done',
  'if [ -r /etc/ssh/ssh_host_ed25519_key.pub ]; then printf "#hostkey|%s\\n" "$(cat /etc/ssh/ssh_host_ed25519_key.pub)"; fi',
  'if [ -r "$base/passwords" ]; then printf "#passwords|%s\\n" "$(cat "$base/passwords")"; fi',
  'exit 0',
].join('\n');

/** $1 step dir, $2 lines: the tail of the step's output. */
export const OUTPUT_TAIL = 'tail -n "$2" "$1/output" 2>/dev/null || true';

/** Stdin: user:password lines. $1 the digest to remember. */
export const SET_PASSWORDS = [
  'set -eu',
  'command -v chpasswd >/dev/null 2>&1 || { echo "cannot set passwords: the image has no chpasswd" >&2; exit 1; }',
  'chpasswd',
  `mkdir -p ${STATE_DIR}`,
  `printf "%s\\n" "$1" > ${STATE_DIR}/passwords`,
].join('\n');

export interface ProbedStep {
  name: string;
  state: 'exited' | 'running' | 'lost' | 'starting' | 'prepared';
  exitCode?: number;
  startSeconds?: number;
  endSeconds?: number;
}

export interface Probe {
  steps: Map<string, ProbedStep>;
  hostKey?: string;
  passwordsDigest?: string;
}

/** Reads PROBE's output. */
export function parseProbe(text: string): Probe {
  const steps = new Map<string, ProbedStep>();
  const probe: Probe = { steps };
  for (const line of text.split('\n')) {
    if (line.startsWith('#hostkey|')) {
      const key = line.slice('#hostkey|'.length).trim().split(/\s+/).slice(0, 2).join(' ');
      if (key) probe.hostKey = key;
      continue;
    }
    if (line.startsWith('#passwords|')) {
      probe.passwordsDigest = line.slice('#passwords|'.length).trim();
      continue;
    }
    const [name, state, start, end] = line.split('|');
    if (!name || !state) continue;
    const seconds = (v: string | undefined) => (v && /^[0-9]+$/.test(v.trim()) ? Number(v.trim()) : undefined);
    const exit = /^exit:(-?[0-9]+)$/.exec(state.trim());
    const parsed: ProbedStep = exit
      ? { name, state: 'exited', exitCode: Number(exit[1]) }
      : { name, state: (['running', 'lost', 'starting', 'prepared'].includes(state) ? state : 'lost') as ProbedStep['state'] };
    const s = seconds(start);
    const e = seconds(end);
    if (s !== undefined) parsed.startSeconds = s;
    if (e !== undefined) parsed.endSeconds = e;
    steps.set(name, parsed);
  }
  return probe;
}

// ---------------------------------------------------------------------------------------------
// First boot: users, SSH keys, sudo, packages, commands, as cloud-init would do them.

type Machine = LabSpec['machines'][number];

export interface FirstBootUser {
  name: string;
  sudo: boolean;
  groups: string[];
  authorizedKeys: string[];
}

const b64 = (s: string): string => Buffer.from(s, 'utf8').toString('base64');

/** The users first boot makes: spec.ssh.user (with the Lab's key and sudo) and the machine's cloudInit users. */
export function firstBootUsers(machine: Machine, ssh: { user: string; publicKey: string } | undefined): FirstBootUser[] {
  const users: FirstBootUser[] = [];
  if (ssh) users.push({ name: ssh.user, sudo: true, groups: [], authorizedKeys: [ssh.publicKey] });
  for (const u of machine.cloudInit?.users ?? []) {
    const same = users.find((x) => x.name === u.name);
    if (same) {
      same.authorizedKeys.push(...(u.sshAuthorizedKeys ?? []));
      same.groups.push(...(u.groups ?? []));
      continue;
    }
    users.push({ name: u.name, sudo: u.sudo ?? false, groups: [...(u.groups ?? [])], authorizedKeys: [...(u.sshAuthorizedKeys ?? [])] });
  }
  return users;
}

/** Whether a machine has any first boot to run. */
export function needsFirstBoot(machine: Machine, ssh: unknown): boolean {
  const c = machine.cloudInit;
  return Boolean(ssh || c?.users?.length || c?.packages?.length || c?.commands?.length);
}

const FIRST_BOOT_LIBRARY = [
  '#!/bin/sh',
  'set -eu',
  'work=$(dirname "$0")',
  'say() { printf "first-boot: %s\\n" "$*"; }',
  'have() { command -v "$1" >/dev/null 2>&1; }',
  'decode() { printf "%s" "$1" | base64 -d; }',
  'login_shell() { if [ -x /bin/bash ]; then echo /bin/bash; else echo /bin/sh; fi; }',
  'home_of() { grep "^$1:" /etc/passwd | cut -d: -f6; }',
  'ensure_group() {',
  '  grep -q "^$1:" /etc/group && return 0',
  '  if have groupadd; then groupadd "$1"; elif have addgroup; then addgroup "$1"; else echo "cannot create group $1: no groupadd or addgroup" >&2; exit 1; fi',
  '}',
  'ensure_user() {',
  '  if grep -q "^$1:" /etc/passwd; then return 0; fi',
  '  if have useradd; then useradd --create-home --shell "$(login_shell)" "$1"',
  '  elif have adduser; then adduser -D -s "$(login_shell)" "$1"',
  '  else echo "cannot create user $1: the image has neither useradd nor adduser" >&2; exit 1; fi',
  '  # No password yet, but not locked: sshd refuses key logins to locked accounts.',
  '  if have usermod; then usermod -p "*" "$1"; elif [ -w /etc/shadow ]; then sed -i "s/^$1:!:/$1:*:/" /etc/shadow; fi',
  '  say "created user $1"',
  '}',
  'join_group() {',
  '  ensure_group "$2"',
  '  if have usermod; then usermod -aG "$2" "$1"; elif have addgroup; then addgroup "$1" "$2"; fi',
  '}',
  'grant_sudo() {',
  '  if [ -d /etc/sudoers.d ]; then printf "%s ALL=(ALL) NOPASSWD:ALL\\n" "$1" > "/etc/sudoers.d/outrigger-$1"; chmod 0440 "/etc/sudoers.d/outrigger-$1"',
  '  else say "sudo is not installed: $1 gets no sudo"; fi',
  '}',
  'authorize() {',
  '  home=$(home_of "$1"); [ -n "$home" ] || { echo "user $1 has no home" >&2; exit 1; }',
  '  mkdir -p "$home/.ssh"; decode "$2" > "$home/.ssh/authorized_keys"',
  '  chmod 0700 "$home/.ssh"; chmod 0600 "$home/.ssh/authorized_keys"; chown -R "$1" "$home/.ssh"',
  '}',
  'installed() {',
  '  if have dpkg-query; then dpkg-query -W -f="\\${Status}" "$1" 2>/dev/null | grep -q "install ok installed"',
  '  elif have apk; then apk info -e "$1" >/dev/null 2>&1',
  '  elif have rpm; then rpm -q "$1" >/dev/null 2>&1',
  '  else return 1; fi',
  '}',
  'install_packages() {',
  '  missing=',
  '  for p in "$@"; do installed "${p%%=*}" || missing="$missing $p"; done',
  '  if [ -z "$missing" ]; then say "packages already installed: $*"; return 0; fi',
  '  say "installing$missing"',
  '  if have apt-get; then apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $missing',
  '  elif have apk; then apk add --no-cache $missing',
  '  elif have dnf; then dnf install -y $(echo $missing | sed "s/=/-/g")',
  '  elif have yum; then yum install -y $(echo $missing | sed "s/=/-/g")',
  '  elif have zypper; then zypper --non-interactive install $missing',
  '  else echo "cannot install$missing: the image has no package manager (apt-get, apk, dnf, yum or zypper)" >&2; exit 1; fi',
  '}',
  'run_command() {',
  '  decode "$2" > "$work/command-$1"',
  '  say "command $1"',
  '  sh "$work/command-$1" || { code=$?; echo "command $1 failed with exit code $code" >&2; exit "$code"; }',
  '}',
].join('\n');

/** The first-boot script of a machine; user names, groups and packages match the schema's patterns, everything else is base64. */
export function firstBootScript(machine: Machine, ssh: { user: string; publicKey: string } | undefined): string {
  const lines = [FIRST_BOOT_LIBRARY];
  for (const u of firstBootUsers(machine, ssh)) {
    lines.push(`ensure_user ${u.name}`);
    for (const g of [...new Set(u.groups)]) lines.push(`join_group ${u.name} ${g}`);
    if (u.sudo) lines.push(`grant_sudo ${u.name}`);
    if (u.authorizedKeys.length > 0) lines.push(`authorize ${u.name} ${b64(`${[...new Set(u.authorizedKeys)].join('\n')}\n`)}`);
  }
  const packages = machine.cloudInit?.packages ?? [];
  if (packages.length > 0) lines.push(`install_packages ${packages.join(' ')}`);
  (machine.cloudInit?.commands ?? []).forEach((c, i) => lines.push(`run_command ${i + 1} ${b64(c)}`));
  lines.push('say done');
  return `${lines.join('\n')}\n`;
}
