/* rp_doc — the document fragment: what `clipbook run` writes for one chapter
 * (build/doc/NN-name.json) and what `clipbook render` reads. This comment is
 * the contract between the chapter runner and the renderer.
 *
 * One JSON object per chapter:
 *
 *   {
 *     "format": "clipbook-doc/1",
 *     "chapter": "05-few-shot",              file stem; chapters sort by it
 *     "source": "chapters/05-few-shot.lua",
 *     "provenance": {
 *       "engine_version": "0.1.0", "profile": "mini", "seed": 0,
 *       "threads": 2, "wall_s": 12.5, "machine": "...",
 *       "started": "2026-11-27T14:08:21Z", "status": "ok" | "failed",
 *       "cache": "build/cache",
 *       "cells": [ {"index": 1, "title": "train heads", "line": 40,
 *                   "wall_s": 3.2, "memo_hits": 1, "memo_misses": 0,
 *                   "error": true,                  only when it failed
 *                   "skipped": "eval=false" | "an earlier cell failed"} ]
 *     },
 *     "results": { "zeroshot.vit.top1": 0.6168, ... },   numbers quoted
 *     "blocks": [ block, ... ]
 *   }
 *
 * Blocks, in reading order. Text fields marked (md) are CommonMark + GFM
 * (tables, strikethrough, autolinks, footnotes) with the extensions below;
 * the renderer parses them (cmark-gfm). Inline values {{ expr }} are already
 * substituted by the runner.
 *
 *   {"type":"markdown", "text": (md)}                        a prose cell
 *   {"type":"code", "lang":"lua", "text":"...", "cell":3,    an echoed cell
 *        "title":"train heads", "line":40,                    (line: first
 *        "numbers":true}                                      line in source;
 *                                                             numbers: show
 *                                                             line numbers)
 *   {"type":"output", "text":"..."}                           captured print()
 *   {"type":"figure", "label":"fig-shots", "caption": (md),
 *        "width": 1.0,                                        fraction of text
 *        "spec": { ...figure spec, see figures/fg.h... }}
 *   {"type":"table", "label":"tbl-probe", "caption": (md),
 *        "columns": ["model","top-1"], "align": ["l","r"],    l | c | r
 *        "rows": [["ViT", "79.9 %"], ...]}                    cells are (md)
 *   {"type":"callout", "kind":"note"|"warning"|"tip", "title":"...",
 *        "text": (md)}
 *   {"type":"error", "cell":3, "title":"train heads", "line":42,
 *        "message":"chapters/05-few-shot.lua:42: ...", "traceback":"..."}
 *        (line: where the error points in the chapter; a failing {{ expr }}
 *        has no "cell" and its title is "inline {{ expr }}"; traceback may
 *        be absent, e.g. for a syntax error)
 *
 * The runner (lua/notebook/runner.lua) writes these; absent optional fields are
 * left out, never null. "code" blocks have "title" only when the cell has
 * one. "results" values are numbers, strings or booleans; `clipbook
 * results build/doc/ *.json --out build/report/results.json` merges them
 * into one flat map sorted by label (`make report` does this).
 *
 * Markdown extensions (renderer):
 *   inline math $...$, display math $$...$$ (a paragraph of its own; a
 *   trailing {#eq-x} labels it); headings may end in {#sec-x} to label them
 *   (otherwise a label is derived from the text); cross-references @fig-x,
 *   @tbl-x, @sec-x, @eq-x become "Figure 3", "Table 2", "Section 4.1",
 *   "Equation (5)" with links; citations [@key] or [@a; @b] refer to the
 *   bibliography in chapters/meta.json.
 *
 * Images in prose, ![alt](img/x.png), are relative to the fragment's folder;
 * a paragraph holding only an image is typeset as a centred picture (PDF)
 * and inlined as a data URI (HTML). Raw HTML in prose reaches the HTML page
 * only.
 *
 * Labels are global across chapters; numbering is assigned at render time
 * in chapter order. The first level-1 heading of a chapter is its title.
 *
 * chapters/meta.json (read by the renderer, optional):
 *   { "title": "...", "subtitle": "...", "authors": ["..."], "date": "...",
 *     "abstract": (md),
 *     "references": [ {"key":"radford2021", "authors":"A. Radford, ...",
 *                      "title":"...", "venue":"ICML", "year":2021,
 *                      "url":"https://..."} ] }
 */
#ifndef RP_DOC_H
#define RP_DOC_H

#define RP_DOC_FORMAT "clipbook-doc/1"

#endif
