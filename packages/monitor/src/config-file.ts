/**
 * Reading a file a person named (a prober configuration, a policy, a drill file): only a regular file,
 * at most MAX_CONFIG_BYTES, UTF-8 text. A FIFO or /dev/zero is refused before it can hang the reader,
 * and no message ever quotes the file's content: only the field that named it and its path.
 */
import { closeSync, constants, fstatSync, openSync, readSync } from "node:fs";

/** Configuration files are a few KiB; a larger one is refused before it is read. */
export const MAX_CONFIG_BYTES = 1024 * 1024;

/** A configuration or policy file that cannot be read or is invalid; the message names the file. */
export class ConfigFileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ConfigFileError";
  }
}

const kindOf = (st: import("node:fs").Stats) =>
  st.isDirectory()
    ? "a directory"
    : st.isFIFO()
      ? "a FIFO"
      : st.isCharacterDevice()
        ? "a character device"
        : st.isBlockDevice()
          ? "a block device"
          : st.isSocket()
            ? "a socket"
            : "not a regular file";

/** The text of `path`, named by `field` (e.g. "--config", "policy") in every message; `format` says what text it should be. */
export function readConfigFile(path: string, field: string, maxBytes = MAX_CONFIG_BYTES, format = "YAML"): string {
  const where = `${field} ${path}`;
  let fd: number;
  try {
    // O_NONBLOCK: opening a FIFO without a writer returns at once instead of waiting for one
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (err) {
    throw new ConfigFileError(`${where}: cannot read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new ConfigFileError(`${where}: expected a regular file, got ${kindOf(st)}`);
    if (st.size > maxBytes) throw new ConfigFileError(`${where}: expected at most ${maxBytes} bytes, the file has ${st.size}`);
    // read at most maxBytes + 1: files under /proc report size 0 whatever they hold
    const buf = Buffer.alloc(maxBytes + 1);
    let n = 0;
    for (let r = -1; r !== 0 && n < buf.length; n += r) {
      try {
        r = readSync(fd, buf, n, buf.length - n, null);
      } catch (err) {
        throw new ConfigFileError(`${where}: cannot read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
      }
    }
    if (n > maxBytes) throw new ConfigFileError(`${where}: expected at most ${maxBytes} bytes, the file has more`);
    const bytes = buf.subarray(0, n);
    if (bytes.includes(0)) throw new ConfigFileError(`${where}: expected a ${format} text file, got binary content (NUL bytes)`);
    try {
      return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
    } catch {
      throw new ConfigFileError(`${where}: expected a ${format} text file, got bytes that are not UTF-8`);
    }
  } finally {
    closeSync(fd);
  }
}
