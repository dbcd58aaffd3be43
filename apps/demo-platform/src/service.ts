import type { Router } from "./http.js";

export interface ReadyResult {
  ready: boolean;
  checks: Record<string, { ok: boolean; detail?: string }>;
}

/** What main.ts needs of a running service. */
export interface Service {
  router: Router;
  ready(): Promise<ReadyResult>;
  stop(): Promise<void>;
}
