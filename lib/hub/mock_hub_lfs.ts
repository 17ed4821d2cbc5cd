/**
 * Test support: the LFS side of {@linkcode MockHub} — the objects store, the batch API's answer
 * (basic transfers: one signed PUT URL; multipart above the single-part limit: signed part URLs
 * in `header` with `chunk_size`, and a completion URL that checks each part's ETag), and the
 * storage/CDN origin that takes uploads and serves downloads at signed URLs only, refusing any
 * request that also carries `Authorization`.
 *
 * Not used by product code.
 *
 * @module
 */

import { createHash } from "node:crypto";
import { HubError, json, need, parse, serveBytes, sha256Hex } from "./mock_hub_http.ts";

interface Multipart {
  oid: string;
  size: number;
  parts: Map<number, { bytes: Uint8Array; etag: string }>;
  count: number;
  partSize: number;
}

/** Where the LFS store lives and how it splits uploads. */
export interface LfsSettings {
  hubUrl: () => string;
  cdnUrl: () => string;
  singlePartLimit: number;
  partSize: number;
}

/** The LFS objects store and its storage origin. */
export class MockLfs {
  /** sha256 → bytes. */
  readonly objects = new Map<string, Uint8Array>();
  #multipart = new Map<string, Multipart>();
  #uploads = 0;

  constructor(readonly settings: LfsSettings) {}

  /** A signature for a URL path (stands in for a pre-signed URL's). */
  sign(text: string): string {
    return createHash("sha256").update(`mock-hub-secret:${text}`).digest("hex").slice(0, 32);
  }

  /** A signed storage URL for `path`. */
  signedUrl(path: string): string {
    return `${this.settings.cdnUrl()}${path}?X-Signature=${this.sign(path)}`;
  }

  /** The batch API's answer for upload `objects`, offered `transfers`. */
  batch(
    objects: { oid: string; size: number }[],
    transfers: string[],
    verifyHref: string,
  ): { transfer: string; objects: unknown[] } {
    const { singlePartLimit, partSize } = this.settings;
    let transfer = "basic";
    const answers = objects.map(({ oid, size }) => {
      if (!/^[0-9a-f]{64}$/.test(oid) || !Number.isInteger(size) || size < 0) {
        return {
          oid: String(oid),
          size: Number(size) || 0,
          error: { code: 422, message: "Invalid oid or size" },
        };
      }
      if (this.objects.get(oid)?.length === size) return { oid, size }; // already stored: no action
      const verify = { href: verifyHref };
      if (size <= singlePartLimit) {
        return {
          oid,
          size,
          authenticated: true,
          actions: { upload: { href: this.signedUrl(`/lfs-upload/${oid}`) }, verify },
        };
      }
      if (!transfers.includes("multipart")) {
        return {
          oid,
          size,
          error: { code: 422, message: "Object too large for a single-part upload" },
        };
      }
      transfer = "multipart";
      const uploadId = this.sign(`mp:${oid}:${++this.#uploads}`);
      const count = Math.ceil(size / partSize);
      this.#multipart.set(uploadId, { oid, size, parts: new Map(), count, partSize });
      const header: Record<string, string> = { chunk_size: String(partSize) };
      for (let n = 1; n <= count; n++) {
        header[String(n).padStart(5, "0")] = this.signedUrl(`/lfs-part/${uploadId}/${n}`);
      }
      const q = `uploadId=${uploadId}&signature=${this.sign(uploadId)}`;
      return {
        oid,
        size,
        authenticated: true,
        actions: {
          upload: { href: `${this.settings.hubUrl()}/api/complete_multipart?${q}`, header },
          verify,
        },
      };
    });
    return { transfer, objects: answers };
  }

  /** `POST /api/complete_multipart?uploadId&signature` with `{oid, parts: [{partNumber, etag}]}`. */
  complete(url: URL, body: Uint8Array): Response {
    const uploadId = url.searchParams.get("uploadId") ?? "";
    if (url.searchParams.get("signature") !== this.sign(uploadId)) {
      throw new HubError(403, "The signature of this completion URL is invalid");
    }
    const up = this.#multipart.get(uploadId);
    if (!up) throw new HubError(404, "No such multipart upload");
    const o = parse(body);
    need(o.oid === up.oid && Array.isArray(o.parts), "oid and parts[]");
    const parts = o.parts as { partNumber: number; etag: string }[];
    need(parts.length === up.count, `${up.count} parts`);
    const bytes = new Uint8Array(up.size);
    for (let n = 1; n <= up.count; n++) {
      const given = parts.find((p) => p.partNumber === n);
      const stored = up.parts.get(n);
      if (!stored) throw new HubError(400, `part ${n} was never uploaded`);
      if (!given || given.etag !== stored.etag) throw new HubError(400, `part ${n}: wrong ETag`);
      bytes.set(stored.bytes, (n - 1) * up.partSize);
    }
    if (sha256Hex(bytes) !== up.oid) {
      throw new HubError(400, "the assembled object does not match its oid");
    }
    this.objects.set(up.oid, bytes);
    this.#multipart.delete(uploadId);
    return json({});
  }

  /**
   * The storage origin: PUT `/lfs-upload/OID`, PUT `/lfs-part/ID/N` (answers the part's ETag),
   * GET/HEAD `/lfs/OID` (`corrupt` may alter the bytes served).
   */
  route(
    req: Request,
    url: URL,
    body: Uint8Array,
    corrupt: (oid: string, bytes: Uint8Array) => Uint8Array,
  ): Response {
    if (req.headers.has("authorization")) {
      // signed URLs carry their own credentials; a storage service refuses a second mechanism
      throw new HubError(
        400,
        "Only one auth mechanism allowed: this URL is signed, send no Authorization header",
      );
    }
    if (url.searchParams.get("X-Signature") !== this.sign(url.pathname)) {
      throw new HubError(403, "Request has expired or its signature does not match");
    }
    const [kind, id, n] = url.pathname.split("/").slice(1);
    if (kind === "lfs-upload" && req.method === "PUT") {
      if (sha256Hex(body) !== id) throw new HubError(400, "content does not match the oid");
      this.objects.set(id, body);
      return new Response(null, { status: 200 });
    }
    if (kind === "lfs-part" && req.method === "PUT") {
      const up = this.#multipart.get(id);
      const part = Number(n);
      if (!up || !(part >= 1 && part <= up.count)) throw new HubError(404, "No such upload part");
      const expected = part < up.count ? up.partSize : up.size - up.partSize * (up.count - 1);
      if (body.length !== expected) {
        throw new HubError(400, `part ${part} must be ${expected} bytes, got ${body.length}`);
      }
      const etag = `"${createHash("md5").update(body).digest("hex")}"`;
      up.parts.set(part, { bytes: body, etag });
      return new Response(null, { status: 200, headers: { etag } });
    }
    if (kind === "lfs" && (req.method === "GET" || req.method === "HEAD")) {
      const bytes = this.objects.get(id);
      if (!bytes) throw new HubError(404, "NoSuchKey");
      return serveBytes(req, req.method === "GET" ? corrupt(id, bytes) : bytes, {
        etag: `"${id}"`,
      });
    }
    throw new HubError(404, `no route for ${req.method} ${url.pathname}`);
  }
}
