// How values travel to and from PVE: form encoding of parameters, PVE's own encodings inside them
// (sshkeys), path templates, and the Content-Type check of answers. Pure functions.

export type ParamValue = string | number | boolean | readonly (string | number)[] | undefined | null;
export type Params = Record<string, ParamValue>;

/** application/x-www-form-urlencoded as PVE reads it: booleans 1/0, arrays as repeated names, empty values skipped. */
export function formEncode(params: Params): string {
  const form = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value === undefined || value === null) continue;
    if (Array.isArray(value)) for (const item of value) form.append(key, String(item));
    else form.append(key, typeof value === 'boolean' ? (value ? '1' : '0') : String(value));
  }
  return form.toString();
}

/**
 * The `sshkeys` value PVE demands: the keys joined by newlines, then percent-encoded (PVE's
 * `urlencoded` format takes only [A-Za-z0-9-_.!~*'()%], exactly what encodeURIComponent leaves).
 * The form encoding then encodes it a second time, which PVE undoes before URI-unescaping it.
 */
export function encodeSshKeys(keys: readonly string[]): string {
  const lines = keys.map((k) => k.trim()).filter((k) => k.length > 0);
  for (const line of lines) {
    if (/[\r\n]/.test(line)) throw new RangeError('an SSH public key must be one line');
  }
  return encodeURIComponent(lines.join('\n'));
}

/** The keys in a config's `sshkeys` value. */
export function decodeSshKeys(value: string | undefined): string[] {
  if (!value) return [];
  return decodeURIComponent(value).split('\n').map((k) => k.trim()).filter((k) => k.length > 0);
}

/** `/nodes/{node}/qemu/{vmid}` with each `{name}` replaced by its value, percent-encoded. */
export function fillPath(template: string, values: Record<string, string | number>): string {
  return template.replace(/\{([^}]+)\}/g, (_, name: string) => {
    const value = values[name];
    if (value === undefined || value === '') throw new RangeError(`path ${template} needs a value for {${name}}`);
    return encodeURIComponent(String(value));
  });
}

/** True for `application/json` with any parameters and spelling: `application/json;charset=UTF-8`, `Application/JSON; charset="utf-8"`. */
export function isJsonMediaType(contentType: string | undefined): boolean {
  if (!contentType) return false;
  const [type] = contentType.split(';');
  return type?.trim().toLowerCase() === 'application/json';
}
