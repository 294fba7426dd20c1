import { useEffect, useState } from "react";
import { api } from "../api";
import type { Messages } from "../i18n";
import type { Me } from "../types";
import { formatSize } from "./Outputs";

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
  const [me, setMe] = useState<Me & { model?: { provider: string; model: string } }>();
  useEffect(() => {
    void api.me().then(setMe, () => undefined);
  }, []);
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
          <input type="checkbox" checked={confirmRun} onChange={(e) => onConfirmRun(e.target.checked)} />
          {t.confirmRun}
        </label>
        <p className="muted small">{t.confirmRunHelp}</p>
        <h3>{t.model}</h3>
        <p data-testid="model">{me?.model ? `${me.model.provider} · ${me.model.model}` : "—"}</p>
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
