import { memo, useEffect, useState } from "react";
import { hasMath, loadKatex, renderMarkdown } from "../markdown";

export const Markdown = memo(function Markdown({ text }: { text: string }) {
  const math = hasMath(text);
  const [, setReady] = useState(0);
  useEffect(() => {
    if (math) void loadKatex().then(() => setReady((n) => n + 1));
  }, [math]);
  return <div className="markdown" dangerouslySetInnerHTML={{ __html: renderMarkdown(text) }} />;
});
