import { useRef, useState } from "react";
import type { Messages } from "../i18n";

/**
 * Composer is the task box. Enter sends and Shift+Enter adds a line, but
 * never while an input method is composing (Chinese, Japanese, Korean):
 * there Enter picks the candidate.
 */
export function Composer({
  t,
  running,
  stopping,
  onSend,
  onStop,
}: {
  t: Messages;
  running: boolean;
  stopping: boolean;
  onSend: (text: string) => void;
  onStop: () => void;
}) {
  const [text, setText] = useState("");
  const composing = useRef(false);
  const send = () => {
    const v = text.trim();
    if (!v || running) return;
    onSend(v);
    setText("");
  };
  return (
    <form
      className="composer"
      onSubmit={(e) => {
        e.preventDefault();
        send();
      }}
    >
      <textarea
        aria-label={t.placeholder}
        placeholder={t.placeholder}
        value={text}
        rows={2}
        onChange={(e) => setText(e.target.value)}
        onCompositionStart={() => {
          composing.current = true;
        }}
        onCompositionEnd={() => {
          composing.current = false;
        }}
        onKeyDown={(e) => {
          if (e.key !== "Enter" || e.shiftKey) return;
          // keyCode 229: the key went to an input method (Safari ends
          // composition before keydown).
          if (composing.current || e.nativeEvent.isComposing || e.keyCode === 229) return;
          e.preventDefault();
          send();
        }}
      />
      {running ? (
        <button type="button" className="stop" onClick={onStop} disabled={stopping}>
          {stopping ? t.stopping : t.stop}
        </button>
      ) : (
        <button type="submit" className="primary" disabled={!text.trim()}>
          {t.send}
        </button>
      )}
    </form>
  );
}
