/**
 * A host name the soak controls through /etc/hosts (the resolver's first source, nsswitch `files`), so
 * that one target of the prober's configuration can stop resolving and resolve again. The machine's file
 * is shared: the entry is appended (never a rewrite while others may read it), disabled and enabled by
 * overwriting its first byte in place (`127.0.0.1 …` ↔ `#27.0.0.1 …`, the file's length unchanged), and
 * removed at the end by truncating the file back to where the entry began when it is still the last line.
 * Names end in `.test` (RFC 2606): no real DNS answers for them, so "not resolving" is what remains.
 */
import { closeSync, fstatSync, openSync, readFileSync, readSync, writeFileSync, writeSync, ftruncateSync } from "node:fs";

export interface HostsEntry {
  name: string;
  /** resolving to 127.0.0.1 (true) or not at all (false) */
  setResolving(on: boolean): void;
  resolving(): boolean;
  /** removes the line; safe to call twice */
  remove(): void;
}

export function addHostsEntry(name: string, opts: { file?: string; tag: string }): HostsEntry {
  if (!/^[a-z0-9.-]+\.test$/.test(name))
    throw new Error(`hosts entry: expected a lower-case name under .test, got ${JSON.stringify(name)}`);
  const file = opts.file ?? "/etc/hosts";
  const line = `127.0.0.1 ${name} # ${opts.tag}\n`;
  let fd = openSync(file, "r+");
  let offset: number;
  try {
    const size = fstatSync(fd).size;
    let prefix = "";
    if (size > 0) {
      const last = Buffer.alloc(1);
      readSync(fd, last, 0, 1, size - 1);
      if (last.toString() !== "\n") prefix = "\n";
    }
    offset = size + prefix.length;
    writeSync(fd, prefix + line, size);
  } finally {
    closeSync(fd);
  }
  let on = true;
  const mine = (buf: Buffer) => {
    const at = buf.subarray(offset, offset + line.length).toString();
    return at === line || at === `#${line.slice(1)}`;
  };
  return {
    name,
    resolving: () => on,
    setResolving(next) {
      fd = openSync(file, "r+");
      try {
        if (!mine(readFileSync(file)))
          throw new Error(`${file} changed under the soak: its entry for ${name} is no longer at byte ${offset}`);
        writeSync(fd, next ? "1" : "#", offset);
        on = next;
      } finally {
        closeSync(fd);
      }
    },
    remove() {
      const buf = readFileSync(file);
      if (!mine(buf)) return; // already removed
      if (buf.length === offset + line.length) {
        fd = openSync(file, "r+");
        try {
          ftruncateSync(fd, offset);
        } finally {
          closeSync(fd);
        }
      } else {
        // another line was added after ours: write the file without our line (the only rewrite)
        writeFileSync(file, Buffer.concat([buf.subarray(0, offset), buf.subarray(offset + line.length)]));
      }
    },
  };
}
