// `outrigger workspaces-from-csv`: a class or team list (CSV, one user per row) to Workspace
// manifests for `kubectl apply`. Every row is checked with the Workspace schema the API server and
// the reconciler use; a bad row is reported by line and column and nothing is printed, so a half
// list is never applied. Every Workspace carries outrigger.dev/class (with --class) and
// outrigger.dev/user, so kubectl acts on a whole class with -l (see README.md).
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { parse as parseCsv } from 'csv-parse/sync';
import { stringify } from 'yaml';
import { API_VERSION, DNS_LABEL, OBJECT_NAME, validateManifest, workspaceKind } from '../crds/index.ts';

export const CLASS_LABEL = 'outrigger.dev/class';
export const USER_LABEL = 'outrigger.dev/user';
export const GENERATED_BY_LABEL = 'outrigger.dev/generated-by';
export const GENERATOR = 'workspaces-from-csv';

export interface CsvOptions {
  /** Shown in messages: "users.csv:4". */
  fileName: string;
  host: string;
  image: string;
  className?: string;
  namespace?: string;
  pullPolicy?: string;
  publishAddress?: string;
  /** Default for rows without an idle_timeout column. */
  idleTimeout?: string;
}

export interface CsvProblem {
  /** 0 for problems with the options or the file as a whole. */
  line: number;
  /** The CSV column (or the --flag) to fix. */
  where: string;
  message: string;
}

export interface Manifest {
  apiVersion: string;
  kind: 'Workspace';
  metadata: { name: string; namespace?: string; labels: Record<string, string>; annotations?: Record<string, string> };
  spec: Record<string, unknown>;
}

/** Columns a row may have (after normalizing: lower case, "-" and " " as "_"), besides label.* and annotation.*. */
export const KNOWN_COLUMNS = ['name', 'ssh_key', 'owner', 'uid', 'cpu', 'memory', 'idle_timeout', 'home_size', 'state'] as const;

const normalize = (column: string): string => column.trim().toLowerCase().replace(/[-\s]+/g, '_');
const isSshKeyColumn = (c: string): boolean => c === 'ssh_key' || /^ssh_key_?\d+$/.test(c) || c === 'ssh_keys';

// Kubernetes label syntax: optional DNS prefix, name of at most 63 characters; values likewise.
const LABEL_NAME = /^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
const LABEL_VALUE = /^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$/;

function validLabelKey(key: string): boolean {
  const slash = key.indexOf('/');
  if (slash < 0) return LABEL_NAME.test(key);
  const prefix = key.slice(0, slash);
  return prefix.length <= 253 && OBJECT_NAME.test(prefix) && LABEL_NAME.test(key.slice(slash + 1));
}

/**
 * Turns CSV text into Workspace manifests. Returns the manifests only when every row is valid;
 * otherwise the problems, each naming the line and the column (or flag) to fix.
 */
export function workspacesFromCsv(text: string, opts: CsvOptions): { manifests: Manifest[]; problems: CsvProblem[] } {
  const problems: CsvProblem[] = [];
  if (opts.className !== undefined && (!DNS_LABEL.test(opts.className) || opts.className.length > 40)) {
    problems.push({ line: 0, where: '--class', message: 'must be a DNS label of at most 40 characters (a-z, 0-9 and "-"): it prefixes every Workspace name and is the outrigger.dev/class label' });
  }
  if (opts.namespace !== undefined && !DNS_LABEL.test(opts.namespace)) problems.push({ line: 0, where: '--namespace', message: 'must be a namespace name (a DNS label)' });
  if (!OBJECT_NAME.test(opts.host)) problems.push({ line: 0, where: '--host', message: 'must be the name of a Host (a lower-case DNS name)' });

  let rows: Array<{ info: { lines: number }; record: Record<string, string> }>;
  try {
    rows = parseCsv(text, { columns: (header: string[]) => header.map(normalize), info: true, comment: '#', skip_empty_lines: true, trim: true, bom: true }) as typeof rows;
  } catch (err) {
    const e = err as { lines?: number; message?: string };
    return { manifests: [], problems: [...problems, { line: e.lines ?? 0, where: 'file', message: `not readable as CSV: ${e.message ?? String(err)}` }] };
  }
  if (rows.length === 0) return { manifests: [], problems: [...problems, { line: 0, where: 'file', message: 'has no rows: the first line names the columns (at least name), then one row per user' }] };

  const columns = Object.keys(rows[0]!.record);
  if (!columns.includes('name')) problems.push({ line: 1, where: 'header', message: 'needs a "name" column (the user name)' });
  for (const c of columns) {
    const known = (KNOWN_COLUMNS as readonly string[]).includes(c) || isSshKeyColumn(c) || c.startsWith('label.') || c.startsWith('annotation.');
    if (!known) problems.push({ line: 1, where: c, message: `unknown column; known: ${KNOWN_COLUMNS.join(', ')}, ssh_key_2..., label.<key>, annotation.<key>` });
    if (c.startsWith('label.') && !validLabelKey(c.slice(6))) problems.push({ line: 1, where: c, message: 'is not a valid label key after "label."' });
    if (c.startsWith('annotation.') && !validLabelKey(c.slice(11))) problems.push({ line: 1, where: c, message: 'is not a valid annotation key after "annotation."' });
  }
  if (problems.length > 0) return { manifests: [], problems };

  const manifests: Manifest[] = [];
  const seen = new Map<string, number>();
  for (const { info, record } of rows) {
    const line = info.lines;
    const { manifest, columnOf, rowProblems } = buildManifest(record, opts, columns);
    problems.push(...rowProblems.map((p) => ({ ...p, line })));
    const checked = validateManifest(workspaceKind, manifest);
    if (!checked.ok) {
      for (const e of checked.errors) {
        const where = columnOf(e.path);
        problems.push({ line: where.startsWith('--') ? 0 : line, where, message: `${e.message} (${e.path})` });
      }
    }
    const earlier = seen.get(manifest.metadata.name);
    if (earlier !== undefined) problems.push({ line, where: 'name', message: `gives the Workspace name ${manifest.metadata.name} again (first on line ${earlier})` });
    seen.set(manifest.metadata.name, line);
    manifests.push(manifest);
  }
  return problems.length > 0 ? { manifests: [], problems: dedupe(problems) } : { manifests, problems: [] };
}

function buildManifest(record: Record<string, string>, opts: CsvOptions, columns: string[]) {
  const rowProblems: Array<Omit<CsvProblem, 'line'>> = [];
  const value = (c: string): string | undefined => (record[c] === undefined || record[c] === '' ? undefined : record[c]);
  // The schema checks the user name (spec.user.name); the Workspace name follows from it.
  const userName = value('name') ?? '';
  const name = (opts.className ? `${opts.className}-${userName}` : userName).replace(/_/g, '-');

  const sshColumns = columns.filter(isSshKeyColumn);
  const keys = sshColumns.flatMap((c) => (value(c) ?? '').split(/\r?\n/).map((k) => k.trim()).filter(Boolean));
  const keyColumn: string[] = sshColumns.flatMap((c) => (value(c) ?? '').split(/\r?\n/).map((k) => k.trim()).filter(Boolean).map(() => c));

  const labels: Record<string, string> = { [USER_LABEL]: LABEL_VALUE.test(userName) ? userName : userName.replace(/_/g, '-').replace(/^-+/, ''), [GENERATED_BY_LABEL]: GENERATOR };
  if (opts.className) labels[CLASS_LABEL] = opts.className;
  const annotations: Record<string, string> = {};
  for (const c of columns) {
    const v = value(c);
    if (v === undefined) continue;
    if (c.startsWith('label.')) {
      if (!LABEL_VALUE.test(v)) rowProblems.push({ where: c, message: 'must be a label value: at most 63 characters of A-Z a-z 0-9 "-" "_" ".", starting and ending with a letter or digit' });
      labels[c.slice(6)] = v;
    }
    if (c.startsWith('annotation.')) annotations[c.slice(11)] = v;
  }

  const uid = value('uid');
  const cpu = value('cpu');
  const memory = value('memory');
  const idleTimeout = value('idle_timeout') ?? opts.idleTimeout;
  const spec: Record<string, unknown> = {
    owner: value('owner') ?? userName,
    runtime: {
      docker: {
        hostRef: { name: opts.host },
        image: opts.image,
        ...(opts.pullPolicy ? { pullPolicy: opts.pullPolicy } : {}),
        ...(opts.publishAddress ? { publishAddress: opts.publishAddress } : {}),
      },
    },
    user: { name: userName, ...(uid !== undefined ? { uid: /^\d+$/.test(uid) ? Number(uid) : uid } : {}) },
    ...(cpu !== undefined || memory !== undefined ? { resources: { ...(cpu !== undefined ? { cpu: quantity(cpu) } : {}), ...(memory !== undefined ? { memory: quantity(memory) } : {}) } } : {}),
    ...(value('home_size') !== undefined ? { home: { size: quantity(value('home_size')!) } } : {}),
    ...(keys.length > 0 ? { ssh: { authorizedKeys: keys } } : {}),
    ...(idleTimeout !== undefined ? { idleTimeout } : {}),
    ...(value('state') !== undefined ? { state: value('state') } : {}),
  };
  const manifest: Manifest = {
    apiVersion: API_VERSION,
    kind: 'Workspace',
    metadata: {
      name,
      ...(opts.namespace ? { namespace: opts.namespace } : {}),
      labels,
      ...(Object.keys(annotations).length > 0 ? { annotations } : {}),
    },
    spec,
  };

  /** The CSV column (or flag) a schema error path comes from. */
  const columnOf = (path: string): string => {
    const key = /^spec\.ssh\.authorizedKeys\[(\d+)\]/.exec(path);
    if (key) return keyColumn[Number(key[1])] ?? 'ssh_key';
    const table: Array<[RegExp, string]> = [
      [/^metadata\.name/, opts.className ? 'name (with --class)' : 'name'],
      [/^spec\.user\.name/, 'name'],
      [/^spec\.user\.uid/, 'uid'],
      [/^spec\.owner/, value('owner') !== undefined ? 'owner' : 'name'],
      [/^spec\.resources\.cpu/, 'cpu'],
      [/^spec\.resources\.memory/, 'memory'],
      [/^spec\.home\.size/, 'home_size'],
      [/^spec\.ssh/, 'ssh_key'],
      [/^spec\.idleTimeout/, value('idle_timeout') !== undefined ? 'idle_timeout' : '--idle-timeout'],
      [/^spec\.state/, 'state'],
      [/^spec\.runtime\.docker\.hostRef/, '--host'],
      [/^spec\.runtime\.docker\.image/, '--image'],
      [/^spec\.runtime\.docker\.pullPolicy/, '--pull-policy'],
      [/^spec\.runtime\.docker\.publishAddress/, '--publish-address'],
    ];
    return table.find(([re]) => re.test(path))?.[1] ?? path;
  };
  return { manifest, columnOf, rowProblems };
}

/** "2" stays a number (cores), "500m" and "4Gi" stay strings, as the schema's int-or-string wants. */
function quantity(v: string): string | number {
  return /^\d+$/.test(v) ? Number(v) : v;
}

/** A problem with a flag is reported once, not once per row. */
function dedupe(problems: CsvProblem[]): CsvProblem[] {
  const seen = new Set<string>();
  return problems.filter((p) => {
    const id = `${p.line}|${p.where}|${p.message}`;
    if (seen.has(id)) return false;
    seen.add(id);
    return true;
  });
}

export function renderManifests(manifests: Manifest[], opts: Pick<CsvOptions, 'fileName' | 'className'>): string {
  const header = `# ${manifests.length} Workspace(s) from ${opts.fileName}${opts.className ? `, class ${opts.className}` : ''}, made by outrigger ${GENERATOR}.\n`;
  return header + manifests.map((m) => `---\n${stringify(m, { lineWidth: 0 })}`).join('');
}

export function formatProblem(p: CsvProblem, fileName: string): string {
  const where = p.where.startsWith('--') || p.where === 'file' ? p.where : `column ${p.where}`;
  return `${p.line > 0 ? `${fileName}:${p.line}` : fileName}: ${where}: ${p.message}`;
}

export const usage = `usage: outrigger workspaces-from-csv --file users.csv --host HOST --image IMAGE [flags] > workspaces.yaml

Turns a CSV of users into Workspace manifests for kubectl apply. The first line names the columns:
  name (required)      user name; also the Workspace name (prefixed with the class, "_" as "-")
  ssh_key              an OpenSSH public key (more: ssh_key_2, ssh_key_3, or several lines in one field)
  owner                who the workspace belongs to (default: name), e.g. an e-mail address
  uid, cpu, memory, idle_timeout, home_size, state   as in the Workspace spec
  label.<key>, annotation.<key>                      extra metadata, e.g. label.team

flags:
  --file PATH             the CSV ("-" reads standard input)
  --host NAME             the Host whose Docker engine runs the workspaces
  --image IMAGE           the workspace image
  --class NAME            label outrigger.dev/class=NAME and prefix the names with NAME-
  --namespace NS          put the Workspaces in NS (default: kubectl's namespace)
  --pull-policy P         Always, IfNotPresent or Never
  --publish-address IP    host address to publish ports on (e.g. 127.0.0.1)
  --idle-timeout D        default idle timeout (e.g. 2h) for rows without idle_timeout
`;

export interface Io {
  stdout(text: string): void;
  stderr(text: string): void;
  readFile(path: string): string;
}

const defaultIo: Io = {
  stdout: (t) => void process.stdout.write(t),
  stderr: (t) => void process.stderr.write(t),
  readFile: (p) => readFileSync(p === '-' ? 0 : p, 'utf8'),
};

/** The command: returns the exit code (0 written, 1 bad rows, 2 bad usage). */
export function runWorkspacesFromCsv(args: string[], io: Io = defaultIo): number {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args,
      options: {
        file: { type: 'string' },
        host: { type: 'string' },
        image: { type: 'string' },
        class: { type: 'string' },
        namespace: { type: 'string' },
        'pull-policy': { type: 'string' },
        'publish-address': { type: 'string' },
        'idle-timeout': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
    }));
  } catch (err) {
    io.stderr(`${err instanceof Error ? err.message : String(err)}\n\n${usage}`);
    return 2;
  }
  if (values.help) {
    io.stdout(usage);
    return 0;
  }
  const missing = (['file', 'host', 'image'] as const).filter((f) => !values[f]);
  if (missing.length > 0) {
    io.stderr(`missing ${missing.map((f) => `--${f}`).join(', ')}\n\n${usage}`);
    return 2;
  }
  const file = values.file as string;
  let text: string;
  try {
    text = io.readFile(file);
  } catch (err) {
    io.stderr(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err instanceof Error ? err.message : String(err))}\n`);
    return 2;
  }
  const opts: CsvOptions = {
    fileName: file === '-' ? 'stdin' : file,
    host: values.host as string,
    image: values.image as string,
    ...(values.class ? { className: values.class as string } : {}),
    ...(values.namespace ? { namespace: values.namespace as string } : {}),
    ...(values['pull-policy'] ? { pullPolicy: values['pull-policy'] as string } : {}),
    ...(values['publish-address'] ? { publishAddress: values['publish-address'] as string } : {}),
    ...(values['idle-timeout'] ? { idleTimeout: values['idle-timeout'] as string } : {}),
  };
  const { manifests, problems } = workspacesFromCsv(text, opts);
  if (problems.length > 0) {
    io.stderr(`${problems.map((p) => formatProblem(p, opts.fileName)).join('\n')}\n${problems.length} problem(s); nothing was written: fix them and run again\n`);
    return 1;
  }
  io.stdout(renderManifests(manifests, opts));
  io.stderr(`${manifests.length} Workspace(s) written\n`);
  return 0;
}
