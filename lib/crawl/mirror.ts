/**
 * A small static file server on 127.0.0.1 for local mirrors (the LibreOffice help HTML of the
 * demo, the benchmark and the tests): files under `root` by path, a content type by extension,
 * 404 for anything else (including `/robots.txt` unless the folder has one, which RFC 9309 reads as
 * "everything allowed"), and a log of request arrival times for politeness checks.
 *
 * @module
 */

/** One request a local server received. */
export interface LoggedRequest {
  /** performance.now() at arrival, ms. */
  t: number;
  path: string;
  userAgent: string;
}

const TYPES: Record<string, string> = {
  html: "text/html; charset=utf-8",
  htm: "text/html; charset=utf-8",
  css: "text/css",
  js: "text/javascript",
  json: "application/json",
  txt: "text/plain; charset=utf-8",
  xml: "application/xml",
  svg: "image/svg+xml",
  png: "image/png",
  gz: "application/gzip",
};

/** A running static server. */
export interface StaticServer {
  origin: string;
  log: LoggedRequest[];
  close(): Promise<void>;
}

/**
 * Serves the files under `root` on 127.0.0.1 (a free port).
 *
 * @example
 * ```ts
 * import { serveStaticDir } from "./mirror.ts";
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/a.html`, "<p>안녕</p>");
 * const server = serveStaticDir(dir);
 * console.log(await (await fetch(`${server.origin}/a.html`)).text());
 * await server.close();
 * ```
 */
export function serveStaticDir(root: string): StaticServer {
  const base = root.replace(/\/$/, "");
  const log: LoggedRequest[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (req) => {
    const url = new URL(req.url);
    log.push({
      t: performance.now(),
      path: url.pathname + url.search,
      userAgent: req.headers.get("user-agent") ?? "",
    });
    let path: string;
    try {
      path = decodeURIComponent(url.pathname);
    } catch {
      return new Response("bad path", { status: 400 });
    }
    if (path.split("/").includes("..") || req.method !== "GET") {
      return new Response("refused", { status: 403 });
    }
    try {
      const file = await Deno.open(base + path, { read: true });
      const info = await file.stat();
      if (!info.isFile) {
        file.close();
        return new Response("not found", { status: 404 });
      }
      const ext = path.split(".").pop()!.toLowerCase();
      return new Response(file.readable, {
        headers: {
          "content-type": TYPES[ext] ?? "application/octet-stream",
          "content-length": String(info.size),
        },
      });
    } catch {
      return new Response("not found", { status: 404 });
    }
  });
  return {
    origin: `http://127.0.0.1:${(server.addr as Deno.NetAddr).port}`,
    log,
    close: () => server.shutdown(),
  };
}

/** The folder to serve for the LibreOffice help of `htmlDir` (`…/help/ko` → `…/help`), whose
 * pages' `<base href="../../../">` points there. */
export function helpMirrorRoot(htmlDir: string): string {
  return htmlDir.replace(/\/$/, "").replace(/\/[^/]+$/, "");
}

/** The start page of the Korean Writer help in a mirror served by {@linkcode serveStaticDir}. */
export function helpStartUrl(origin: string, lang = "ko"): string {
  return `${origin}/${lang}/text/swriter/main0000.html`;
}
