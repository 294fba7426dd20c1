import { memo, useState } from "react";
import type { Step } from "../events";
import type { Messages } from "../i18n";
import { Markdown } from "./Markdown";
import { Code, OutputView } from "./Outputs";

export const StepView = memo(function StepView({
  step,
  t,
  fileURL,
  rev,
}: {
  step: Step;
  t: Messages;
  fileURL: (path: string) => string | undefined;
  /** rev changes whenever the step does (steps are updated in place). */
  rev: number;
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
            <button type="button" className="link" aria-expanded={open} onClick={() => setOpen(!open)}>
              {open ? t.hideCode : t.showCode}
            </button>
            <span className={`status status-${status}`} data-testid="cell-status">
              {status === "running" ? t.running : status}
              {step.duration !== undefined ? ` · ${step.duration.toFixed(2)} s` : ""}
            </span>
          </div>
          {open && <Code code={step.code} />}
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
