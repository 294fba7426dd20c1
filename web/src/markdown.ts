// The model's text is untrusted: markdown is rendered by marked, then
// DOMPurify keeps only harmless HTML. Math ($...$, $$...$$) is typeset
// by KaTeX, loaded only when a message has some.

import DOMPurify from "dompurify";
import { Marked } from "marked";

const marked = new Marked({ gfm: true, breaks: false });

type Katex = { renderToString: (tex: string, opts: Record<string, unknown>) => string };
let katex: Katex | undefined;
let katexLoading: Promise<void> | undefined;

export function loadKatex(): Promise<void> {
  katexLoading ??= Promise.all([import("katex"), import("katex/dist/katex.min.css")]).then(([k]) => {
    katex = k.default as Katex;
  });
  return katexLoading;
}

const mathRE =
  /\$\$([\s\S]+?)\$\$|\\\[([\s\S]+?)\\\]|\\\(([\s\S]+?)\\\)|(?<![\\$\w])\$([^\s$](?:[^$\n]*?[^\s$])?)\$(?!\w)/g;

export function hasMath(src: string): boolean {
  mathRE.lastIndex = 0;
  return mathRE.test(src);
}

function typeset(src: string): string {
  if (!katex) return src;
  const k = katex;
  // Math is swapped for placeholders, so that markdown leaves it alone.
  return src.replace(mathRE, (_m, d1, d2, i1, i2) => {
    const tex = d1 ?? d2 ?? i1 ?? i2;
    try {
      return k.renderToString(tex, { displayMode: Boolean(d1 ?? d2), throwOnError: false, output: "html" });
    } catch {
      return _m;
    }
  });
}

/** BoundedCache keeps the last results of a costly function, up to max. */
export class BoundedCache<K, V> {
  private m = new Map<K, V>();
  constructor(private max: number) {}
  get(k: K, make: () => V): V {
    let v = this.m.get(k);
    if (v === undefined) {
      v = make();
      if (this.m.size >= this.max) this.m.delete(this.m.keys().next().value as K);
      this.m.set(k, v);
    }
    return v;
  }
}

const rendered = new BoundedCache<string, string>(500);

/**
 * renderMarkdown renders the model's markdown as safe HTML. Results are
 * kept: a virtualised list renders a step again whenever it scrolls back.
 * Text with math is not kept until KaTeX is loaded.
 */
export function renderMarkdown(src: string): string {
  if (!katex && hasMath(src)) return render(src);
  return rendered.get(src, () => render(src));
}

function render(src: string): string {
  const html = marked.parse(typeset(src), { async: false }) as string;
  return DOMPurify.sanitize(html, {
    FORBID_TAGS: ["style", "form", "input", "button", "textarea", "select", "iframe", "object", "embed"],
    FORBID_ATTR: ["srcset", "action", "formaction"],
    ALLOWED_URI_REGEXP: /^(?:https?:|mailto:|#)/i,
  });
}
