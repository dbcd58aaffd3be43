/** The error every platform driver throws: what failed, a code callers branch on, and whether a retry may help. */
export class PlatformError extends Error {
  constructor(
    message: string,
    readonly code: "not-found" | "refused" | "forbidden" | "docker" | "kubernetes",
    readonly retriable: boolean,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = "PlatformError";
  }
}
