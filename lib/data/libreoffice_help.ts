/**
 * The embedded default corpus: LibreOffice's help pages in Korean and English, from Debian's
 * `libreoffice-help-ko` and `libreoffice-help-en-us` (MPL-2.0). The main text of each page is its
 * `DisplayArea` element — the rule that also serves as the reference for extraction quality.
 *
 * @module
 */

import { DOMParser } from "linkedom";
import { obtainDebianPackage } from "./debian_package.ts";
import { blockText, type TextNodeLike } from "./html_text.ts";
import type { Doc } from "../io/jsonl.ts";

/** Languages of the help corpus, with their Debian package and folder names. */
export const HELP_LANGUAGES = {
  ko: { pkg: "libreoffice-help-ko", dir: "ko" },
  en: { pkg: "libreoffice-help-en-us", dir: "en-US" },
} as const;

/** A help language. */
export type HelpLanguage = keyof typeof HELP_LANGUAGES;

/** Obtains the help package of `lang`; returns the folder holding its `text/` HTML tree. */
export async function obtainHelpHtml(lang: HelpLanguage, cacheDir: string): Promise<string> {
  const { pkg, dir } = HELP_LANGUAGES[lang];
  const root = await obtainDebianPackage(pkg, cacheDir);
  return `${root}/usr/share/libreoffice/help/${dir}`;
}

/** Lists the HTML pages under `dir` (recursively), sorted. */
export async function listHtmlFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string) => {
    for await (const e of Deno.readDir(d)) {
      const p = `${d}/${e.name}`;
      if (e.isDirectory) await walk(p);
      else if (e.isFile && e.name.endsWith(".html")) out.push(p);
    }
  };
  await walk(dir);
  return out.sort();
}

/** Title and main text (`#DisplayArea`) of one help page; null when the page has no main area. */
export function helpPageText(html: string): { title: string; text: string } | null {
  const doc = new DOMParser().parseFromString(html, "text/html");
  const area = doc.getElementById("DisplayArea");
  if (!area) return null;
  const title = (doc.querySelector("title")?.textContent ?? "").trim();
  return { title, text: blockText(area as unknown as TextNodeLike) };
}

/**
 * Yields one document per help page with non-empty main text; ids are the page paths relative to
 * `htmlDir`, prefixed by the language.
 */
export async function* helpDocs(
  lang: HelpLanguage,
  htmlDir: string,
  onFile?: (path: string) => void,
): AsyncGenerator<Doc> {
  for (const path of await listHtmlFiles(`${htmlDir}/text`)) {
    onFile?.(path);
    const page = helpPageText(await Deno.readTextFile(path));
    if (!page || page.text === "") continue;
    const rel = path.slice(htmlDir.length + 1);
    yield {
      id: `${lang}/${rel}`,
      text: page.text,
      meta: { lang, title: page.title, source: "libreoffice-help", path: rel },
    };
  }
}
