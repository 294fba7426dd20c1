import { useState } from "react";
import type { Messages } from "../i18n";

export function SignIn({ t, onSignIn }: { t: Messages; onSignIn: (key: string) => Promise<void> }) {
  const [key, setKey] = useState("");
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);
  return (
    <main className="signin">
      <form
        onSubmit={async (e) => {
          e.preventDefault();
          setBusy(true);
          setError("");
          try {
            await onSignIn(key.trim());
          } catch (err) {
            setError((err as Error).message);
          } finally {
            setBusy(false);
          }
        }}
      >
        <h1>{t.signInTitle}</h1>
        <p>{t.signInHelp}</p>
        <label>
          {t.apiKey}
          <input
            type="password"
            autoComplete="off"
            value={key}
            onChange={(e) => setKey(e.target.value)}
            placeholder="ik_…"
            required
          />
        </label>
        {error && (
          <p className="error" role="alert">
            {error}
          </p>
        )}
        <button type="submit" className="primary" disabled={busy || !key.trim()}>
          {t.signIn}
        </button>
        <p className="muted small">{t.signInUIHelp}</p>
      </form>
    </main>
  );
}
