import hljs from "highlight.js/lib/core";
import python from "highlight.js/lib/languages/python";
import { memo, useEffect, useMemo, useRef, useState } from "react";
import { type Output, stripANSI } from "../events";
import type { Messages } from "../i18n";
import { BoundedCache, renderMarkdown } from "../markdown";

hljs.registerLanguage("python", python);

// Highlighting is the costliest part of a step's first render, and a
// virtualised list renders a step again each time it scrolls back into
// view: the last few hundred results are kept.
const highlighted = new BoundedCache<string, string>(500);

export function Code({ code }: { code: string }) {
  const html = useMemo(
    () =>
      highlighted.get(code, () => hljs.highlight(code, { language: "python", ignoreIllegals: true }).value),
    [code],
  );
  // highlight.js escapes the code; its output holds only its own spans.
  return (
    // Focusable, so that a keyboard can scroll long lines.
    // biome-ignore lint/a11y/noNoninteractiveTabindex: a scrollable region must be reachable
    <pre className="code" tabIndex={0}>
      <code className="hljs language-python" dangerouslySetInnerHTML={{ __html: html }} />
    </pre>
  );
}

function utf8Base64(s: string): string {
  const bytes = new TextEncoder().encode(s);
  let bin = "";
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin);
}

/**
 * HTMLFrame shows a kernel's HTML in a frame of its own opaque origin
 * (frame.html is served with CSP sandbox and no network; the iframe is
 * sandboxed without allow-same-origin too): its scripts may run, but
 * reach neither the page, nor the cookie, nor the API.
 */
export function HTMLFrame({ html, title }: { html: string; title: string }) {
  const ref = useRef<HTMLIFrameElement>(null);
  const [height, setHeight] = useState(48);
  useEffect(() => {
    const post = () => ref.current?.contentWindow?.postMessage({ type: "interp-render", html }, "*");
    const onMessage = (e: MessageEvent) => {
      if (!ref.current || e.source !== ref.current.contentWindow) return;
      const d = e.data as { type?: string; height?: unknown };
      if (d?.type === "interp-ready") post();
      if (d?.type === "interp-height" && typeof d.height === "number" && Number.isFinite(d.height)) {
        setHeight(Math.min(Math.max(Math.ceil(d.height), 16), 1600));
      }
    };
    window.addEventListener("message", onMessage);
    return () => window.removeEventListener("message", onMessage);
  }, [html]);
  return (
    <iframe
      ref={ref}
      className="html-frame"
      sandbox="allow-scripts"
      src="/frame.html"
      title={title}
      style={{ height }}
      onLoad={() => ref.current?.contentWindow?.postMessage({ type: "interp-render", html }, "*")}
    />
  );
}

function Display({ data, t }: { data: Record<string, unknown>; t: Messages }) {
  const str = (k: string) => (typeof data[k] === "string" ? (data[k] as string) : undefined);
  for (const mime of ["image/png", "image/jpeg", "image/gif", "image/webp"]) {
    const b64 = str(mime);
    if (b64)
      return (
        <img
          className="out-image"
          alt={str("text/plain") ?? t.imageOutput}
          src={`data:${mime};base64,${b64}`}
          // Its size known before it is decoded (off the main thread),
          // a row entering the list keeps its height: no relayout.
          {...(mime === "image/png" ? pngSize(b64) : {})}
          decoding="async"
        />
      );
  }
  const svg = str("image/svg+xml");
  if (svg) {
    // As an image, an SVG cannot run script.
    return (
      <img className="out-image" alt={t.imageOutput} src={`data:image/svg+xml;base64,${utf8Base64(svg)}`} />
    );
  }
  const html = str("text/html");
  if (html) return <HTMLFrame html={html} title={t.htmlOutput} />;
  const md = str("text/markdown");
  if (md) return <div className="markdown" dangerouslySetInnerHTML={{ __html: renderMarkdown(md) }} />;
  const text = str("text/plain");
  if (text) return <pre className="out-text">{text}</pre>;
  return null;
}

function size(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}

export const OutputView = memo(function OutputView({
  o,
  t,
  fileURL,
}: {
  o: Output;
  t: Messages;
  fileURL?: (path: string) => string | undefined;
}) {
  switch (o.kind) {
    case "stream":
      return <pre className={`out-${o.name}`}>{o.text}</pre>;
    case "display":
      return <Display data={o.data} t={t} />;
    case "error":
      return (
        <pre className="out-error" role="alert">
          {o.traceback.length > 0 ? stripANSI(o.traceback.join("\n")) : `${o.ename}: ${o.evalue}`}
        </pre>
      );
    case "install":
      return (
        <div className={`out-install phase-${o.phase}`}>
          {t.install} {o.package}
          {o.version ? ` ${o.version}` : ""}: {o.phase}
          {o.message ? ` (${o.message})` : ""}
        </div>
      );
    case "file": {
      const url = o.change !== "deleted" ? fileURL?.(o.path) : undefined;
      return (
        <div className="out-file">
          {o.change}{" "}
          {url ? (
            <a href={url} download={o.path.split("/").pop()}>
              {o.path}
            </a>
          ) : (
            o.path
          )}{" "}
          ({size(o.size)})
        </div>
      );
    }
  }
});

export { size as formatSize };

/** pngSize reads a PNG's width and height from its header, in base64. */
export function pngSize(b64: string): { width?: number; height?: number } {
  try {
    // The IHDR chunk's width and height are bytes 16 to 24.
    const head = atob(b64.slice(0, 32));
    if (head.length < 24 || head.slice(1, 4) !== "PNG") return {};
    const u32 = (i: number) =>
      ((head.charCodeAt(i) << 24) |
        (head.charCodeAt(i + 1) << 16) |
        (head.charCodeAt(i + 2) << 8) |
        head.charCodeAt(i + 3)) >>>
      0;
    const width = u32(16);
    const height = u32(20);
    return width > 0 && height > 0 && width < 1 << 16 && height < 1 << 16 ? { width, height } : {};
  } catch {
    return {};
  }
}
