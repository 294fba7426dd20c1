import { memo, useRef, useState } from "react";
import type { Step } from "../events";
import type { Messages } from "../i18n";
import { Markdown } from "./Markdown";
import { Code, OutputView } from "./Outputs";

export type ConfirmAnswer = (id: string, action: "run" | "skip", code?: string) => void;

export const StepView = memo(function StepView({
  step,
  t,
  fileURL,
  rev,
  onConfirm,
}: {
  step: Step;
  t: Messages;
  fileURL: (path: string) => string | undefined;
  /** rev changes whenever the step does (steps are updated in place). */
  rev: number;
  onConfirm?: ConfirmAnswer;
}) {
  const [open, setOpen] = useState(true);
  void rev;
  const status = step.status ?? (step.code ? "writing" : "");
  return (
    <article className={`step${step.answer ? " answer" : ""}`} aria-label={`${t.step} ${step.n}`}>
      {step.text && <Markdown text={step.text} />}
      {step.code && (
        <div className="cell">
          <div className="cell-head">
            {/* Code waiting for an answer is always shown, below. */}
            {step.confirm ? (
              <span />
            ) : (
              <button type="button" className="link" aria-expanded={open} onClick={() => setOpen(!open)}>
                {open ? t.hideCode : t.showCode}
              </button>
            )}
            <span className={`status status-${status}`} data-testid="cell-status">
              {status === "running"
                ? step.confirm
                  ? t.confirmWaiting
                  : t.running
                : status === "declined"
                  ? t.declined
                  : status}
              {step.duration !== undefined ? ` · ${step.duration.toFixed(2)} s` : ""}
            </span>
          </div>
          {open && !step.confirm && <Code code={step.code} />}
          {step.confirm && onConfirm && (
            <ConfirmBox key={step.confirm.id} ask={step.confirm} t={t} onAnswer={onConfirm} />
          )}
          {step.outputs.length > 0 && (
            <div className="outputs">
              {step.outputs.map((o, i) => (
                // biome-ignore lint/suspicious/noArrayIndexKey: outputs only grow at the end
                <OutputView key={i} o={o} t={t} fileURL={fileURL} />
              ))}
            </div>
          )}
          {step.reason && step.status !== "ok" && <div className="reason">{step.reason}</div>}
        </div>
      )}
      {!step.code && step.outputs.length > 0 && (
        <div className="outputs">
          {step.outputs.map((o, i) => (
            // biome-ignore lint/suspicious/noArrayIndexKey: outputs only grow at the end
            <OutputView key={i} o={o} t={t} fileURL={fileURL} />
          ))}
        </div>
      )}
    </article>
  );
});

/**
 * ConfirmBox shows code waiting to run, as interp run asks on a terminal:
 * run it, edit it first, or skip it (the model is told; the task goes on).
 */
function ConfirmBox({
  ask,
  t,
  onAnswer,
}: {
  ask: { id: string; code: string };
  t: Messages;
  onAnswer: ConfirmAnswer;
}) {
  const [editing, setEditing] = useState(false);
  const [code, setCode] = useState(ask.code);
  const [sent, setSent] = useState(false);
  const box = useRef<HTMLTextAreaElement>(null);
  const answer = (action: "run" | "skip") => {
    setSent(true);
    onAnswer(ask.id, action, action === "run" && code !== ask.code ? code : undefined);
  };
  return (
    <fieldset className="confirm" aria-label={t.confirmAsk}>
      {editing ? (
        <textarea
          ref={box}
          className="confirm-edit"
          aria-label={t.editCode}
          value={code}
          spellCheck={false}
          rows={Math.min(20, code.split("\n").length + 1)}
          onChange={(e) => setCode(e.target.value)}
        />
      ) : (
        <Code code={code} />
      )}
      <div className="confirm-bar">
        <span>{t.confirmAsk}</span>
        <button type="button" className="primary" disabled={sent} onClick={() => answer("run")}>
          {editing && code !== ask.code ? t.runEdited : t.run}
        </button>
        {!editing && (
          <button
            type="button"
            className="secondary"
            disabled={sent}
            onClick={() => {
              setEditing(true);
              requestAnimationFrame(() => box.current?.focus());
            }}
          >
            {t.edit}
          </button>
        )}
        <button type="button" className="secondary" disabled={sent} onClick={() => answer("skip")}>
          {t.skip}
        </button>
      </div>
    </fieldset>
  );
}
