import { useEffect, useRef, useState } from "react";
import { api } from "../api";
import type { Messages } from "../i18n";
import type { Me, SettingsDoc } from "../types";
import { formatSize } from "./Outputs";

const MiB = 1 << 20;

export type Theme = "system" | "light" | "dark";
export type Lang = "auto" | "en" | "zh";

export function Settings({
  t,
  theme,
  lang,
  onTheme,
  onLang,
  confirmRun,
  onConfirmRun,
  onClose,
}: {
  t: Messages;
  theme: Theme;
  lang: Lang;
  onTheme: (v: Theme) => void;
  onLang: (v: Lang) => void;
  confirmRun: boolean;
  onConfirmRun: (v: boolean) => void;
  onClose: () => void;
}) {
  const [me, setMe] = useState<Me>();
  // The model and limits are the user's, kept by the server, which says
  // what it allows and checks what is saved.
  const [doc, setDoc] = useState<SettingsDoc>();
  const [choice, setChoice] = useState("");
  const [memory, setMemory] = useState("");
  const [timeout, setTimeoutS] = useState("");
  const [status, setStatus] = useState<{ ok: boolean; text: string }>();
  const [confirmStatus, setConfirmStatus] = useState<{ ok: boolean; text: string }>();
  const load = (d: SettingsDoc) => {
    setDoc(d);
    setChoice(d.settings.provider ? `${d.settings.provider}\u0000${d.settings.model}` : "");
    setMemory(d.settings.memory ? String(Math.round(d.settings.memory / MiB)) : "");
    setTimeoutS(d.settings.cell_timeout ? String(d.settings.cell_timeout) : "");
    // Flipped in another browser meanwhile: this one follows.
    onConfirmRun(!!d.settings.confirm);
  };
  // biome-ignore lint/correctness/useExhaustiveDependencies: once, when the dialog opens
  useEffect(() => {
    void api.me().then(setMe, () => undefined);
    void api.settings().then(load, (e: Error) => setStatus({ ok: false, text: e.message }));
  }, []);
  const save = async () => {
    const [provider, model] = choice ? choice.split("\u0000") : [undefined, undefined];
    try {
      load(
        await api.saveSettings({
          provider,
          model,
          memory: memory ? Math.round(Number(memory) * MiB) : undefined,
          cell_timeout: timeout ? Number(timeout) : undefined,
          confirm: confirmRun || undefined,
        }),
      );
      setStatus({ ok: true, text: t.saved });
    } catch (e) {
      setStatus({ ok: false, text: (e as Error).message });
    }
  };
  // The switch is saved as it is flipped, alone: the model and limits
  // above Save keep what is being typed.
  // The box shows the change at once, and goes back if the server
  // refuses it; saves go one after another, so the last click wins.
  const saving = useRef<Promise<void>>(Promise.resolve());
  const saveConfirm = (on: boolean) => {
    if (!doc) return;
    onConfirmRun(on);
    setConfirmStatus(undefined);
    saving.current = saving.current.then(async () => {
      try {
        const d = await api.saveSettings({ ...doc.settings, confirm: on || undefined });
        setDoc(d);
        onConfirmRun(!!d.settings.confirm);
        setConfirmStatus({ ok: true, text: t.saved });
      } catch (e) {
        onConfirmRun(!on);
        setConfirmStatus({ ok: false, text: (e as Error).message });
      }
    });
  };
  const lim = doc?.limits;
  const def = doc?.models?.find((m) => m.default);
  const limit = (n: number | undefined, f: (n: number) => string = String) =>
    n === undefined || n < 0 ? "∞" : f(n);
  return (
    <div className="dialog-backdrop">
      <div
        className="dialog"
        role="dialog"
        aria-modal="true"
        aria-labelledby="settings-title"
        onKeyDown={(e) => e.key === "Escape" && onClose()}
      >
        <h2 id="settings-title">{t.settings}</h2>
        <label>
          {t.theme}
          <select value={theme} onChange={(e) => onTheme(e.target.value as Theme)}>
            <option value="system">{t.themeSystem}</option>
            <option value="light">{t.themeLight}</option>
            <option value="dark">{t.themeDark}</option>
          </select>
        </label>
        <label>
          {t.language}
          <select value={lang} onChange={(e) => onLang(e.target.value as Lang)}>
            <option value="auto">Auto</option>
            <option value="en">English</option>
            <option value="zh">中文</option>
          </select>
        </label>
        <label className="check">
          <input
            type="checkbox"
            checked={confirmRun}
            disabled={!doc}
            aria-describedby="confirm-help"
            onChange={(e) => saveConfirm(e.target.checked)}
          />
          {t.confirmRun}
        </label>
        <p className="muted small" id="confirm-help">
          {t.confirmRunHelp}
          {confirmStatus && (
            <span
              role={confirmStatus.ok ? "status" : "alert"}
              className={confirmStatus.ok ? "" : "error-text"}
              data-testid="confirm-status"
            >
              {" "}
              {confirmStatus.text}
            </span>
          )}
        </p>
        <h3>{t.modelAndLimits}</h3>
        <label>
          {t.model}
          <select value={choice} onChange={(e) => setChoice(e.target.value)} data-testid="model">
            <option value="">
              {t.serverDefault}
              {def ? ` (${def.provider} · ${def.model})` : ""}
            </option>
            {(doc?.models ?? []).map((m) => (
              <option key={`${m.provider}/${m.model}`} value={`${m.provider}\u0000${m.model}`}>
                {m.provider} · {m.model}
                {m.local ? ` (${t.localModel})` : ""}
              </option>
            ))}
          </select>
        </label>
        <label>
          {t.memoryMiB}
          <input
            type="number"
            inputMode="numeric"
            value={memory}
            placeholder={lim ? String(Math.round(lim.memory.default / MiB)) : ""}
            min={lim ? Math.ceil(lim.memory.min / MiB) : undefined}
            max={lim ? Math.floor(lim.memory.max / MiB) : undefined}
            onChange={(e) => setMemory(e.target.value)}
          />
        </label>
        {lim && (
          <p className="muted small" data-testid="memory-range">
            {t.allowed}: {Math.ceil(lim.memory.min / MiB)}–{Math.floor(lim.memory.max / MiB)} MiB
          </p>
        )}
        <label>
          {t.cellTimeoutS}
          <input
            type="number"
            inputMode="decimal"
            value={timeout}
            placeholder={lim ? String(lim.cell_timeout.default) : ""}
            min={lim?.cell_timeout.min}
            max={lim?.cell_timeout.max}
            onChange={(e) => setTimeoutS(e.target.value)}
          />
        </label>
        {lim && (
          <p className="muted small" data-testid="timeout-range">
            {t.allowed}: {lim.cell_timeout.min}–{lim.cell_timeout.max} s
          </p>
        )}
        <div className="settings-save">
          <button type="button" className="primary" onClick={() => void save()}>
            {t.save}
          </button>
          {status && (
            <span
              role={status.ok ? "status" : "alert"}
              className={status.ok ? "muted small" : "error-text small"}
            >
              {status.text}
            </span>
          )}
        </div>
        <h3>{t.limits}</h3>
        <dl className="limits">
          <dt>{t.sessions}</dt>
          <dd>
            {me?.usage.sessions ?? "…"} / {limit(me?.quotas.sessions)}
          </dd>
          <dt>{t.tokensPerDay}</dt>
          <dd>
            {me?.usage.tokens_today ?? "…"} / {limit(me?.quotas.tokens_per_day)}
          </dd>
          <dt>{t.workspace}</dt>
          <dd>
            {formatSize(me?.usage.workspace_bytes ?? 0)} / {limit(me?.quotas.workspace_bytes, formatSize)}
          </dd>
        </dl>
        <p className="muted small">{t.shortcuts}</p>
        <button type="button" className="primary" onClick={onClose}>
          {t.close}
        </button>
      </div>
    </div>
  );
}
