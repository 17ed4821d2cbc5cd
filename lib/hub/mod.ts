/**
 * Hugging Face Hub sync: push folders, pull snapshots, model cards, background checkpoint pushes.
 *
 * @module
 */

export { findToken, hubEndpoint, type HubToken, tokenFilePath } from "./auth.ts";
export { pushFolder, type PushOptions, type PushResult } from "./push.ts";
export { type PullOptions, pullRepo, type PullResult } from "./pull.ts";
export { buildModelCard, CARD_MARKER, isGeneratedCard } from "./model_card.ts";
export { BackgroundPusher, type PushEvent } from "./background_push.ts";
export { rateLimitResetMs, retryingFetch } from "./http.ts";
export {
  createBranch,
  createRepo,
  download,
  type HubClient,
  HubHttpError,
  listTree,
  repoInfo,
  resolveUrl,
  type TreeEntry,
} from "./api.ts";
export { redact, registerSecret } from "./redact.ts";
