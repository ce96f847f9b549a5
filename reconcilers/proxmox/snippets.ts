// Where user-data snippets go. PVE's API cannot upload snippets (its upload takes iso, vztmpl and
// import only), so a snippet reaches a node's storage another way; the provider only needs this
// interface. DirectorySnippetStore writes into a directory that is the storage's snippets folder
// (a shared storage such as NFS or CephFS mounted into the controller, or the node's own folder
// where the controller runs on the node).
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export interface SnippetStore {
  /** Stores the snippet and returns its volume id, such as `local:snippets/NAME`. */
  put(name: string, content: string): Promise<string>;
  /** Removes it; a missing snippet is no error. */
  remove(name: string): Promise<void>;
  /** The volume id a snippet of this name has (without storing anything). */
  volumeFor(name: string): string;
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,200}\.ya?ml$/;

export class DirectorySnippetStore implements SnippetStore {
  private readonly storage: string;
  private readonly dir: string;

  constructor(opts: { storage: string; dir: string }) {
    this.storage = opts.storage;
    this.dir = opts.dir;
  }

  async put(name: string, content: string): Promise<string> {
    if (!NAME.test(name)) throw new RangeError(`bad snippet name ${name}`);
    await mkdir(this.dir, { recursive: true });
    const temp = join(this.dir, `.${name}.${process.pid}.tmp`);
    await writeFile(temp, content, { mode: 0o644 });
    await rename(temp, join(this.dir, name));
    return this.volumeFor(name);
  }

  volumeFor(name: string): string {
    return `${this.storage}:snippets/${name}`;
  }

  async remove(name: string): Promise<void> {
    if (!NAME.test(name)) return;
    await rm(join(this.dir, name), { force: true });
  }
}
