/**
 * Demo stage "corpus": obtains the LibreOffice help pages in Korean and English from Debian and
 * writes their main text as document records (`corpus/ko.jsonl.gz`, `corpus/en.jsonl.gz`).
 *
 * @module
 */

import { Progress, progressMode } from "../cli/progress.ts";
import { JsonlWriter } from "../io/jsonl.ts";
import {
  helpDocs,
  type HelpLanguage,
  listHtmlFiles,
  obtainHelpHtml,
} from "../data/libreoffice_help.ts";
import type { DemoStage } from "./stage.ts";

const HANGUL = /[\uac00-\ud7a3]/g;

/** The corpus stage. Artifacts: `corpus.<lang>.html` (folder), `corpus.<lang>.docs` (JSONL). */
export const corpusStage: DemoStage = {
  name: "corpus",
  summary: "LibreOffice help (ko, en-US) from Debian packages → document records",
  async run(ctx) {
    const out = ctx.run.path("corpus");
    await Deno.mkdir(out, { recursive: true });
    const figures: Record<string, unknown> = {};
    for (const lang of ["ko", "en"] as HelpLanguage[]) {
      const htmlDir = await obtainHelpHtml(lang, ctx.cacheDir);
      const pages = (await listHtmlFiles(`${htmlDir}/text`)).length;
      const progress = new Progress({
        label: `corpus ${lang}`,
        total: pages,
        unit: "pages",
        mode: progressMode(ctx.quiet),
      });
      const path = `${out}/${lang}.jsonl.gz`;
      const writer = await JsonlWriter.open(path);
      let chars = 0;
      let hangul = 0;
      for await (const doc of helpDocs(lang, htmlDir, () => progress.tick())) {
        chars += doc.text.length;
        hangul += doc.text.match(HANGUL)?.length ?? 0;
        await writer.write(doc);
      }
      await writer.close();
      progress.done();
      ctx.artifacts.set(`corpus.${lang}.html`, htmlDir);
      ctx.artifacts.set(`corpus.${lang}.docs`, path);
      figures[lang] = { pages, docs: writer.count, chars, hangul_syllables: hangul, path };
    }
    return figures;
  },
};
