import { useCallback, useEffect, useState } from "react";
import { api } from "../api";
import type { Messages } from "../i18n";
import type { FileInfo } from "../types";
import { formatSize } from "./Outputs";

const imageExt = /\.(png|jpe?g|gif|webp|svg)$/i;

function Preview({ sessionID, file, t }: { sessionID: string; file: FileInfo; t: Messages }) {
  const [img, setImg] = useState<string>();
  const [rows, setRows] = useState<string[][]>();
  useEffect(() => {
    let url: string | undefined;
    let cancelled = false;
    setImg(undefined);
    setRows(undefined);
    void (async () => {
      const res = await fetch(api.fileURL(sessionID, file.path), { credentials: "same-origin" });
      if (!res.ok || cancelled) return;
      if (imageExt.test(file.path)) {
        const blob = await res.blob();
        // An SVG shown as an image runs no script.
        url = URL.createObjectURL(
          new Blob([blob], { type: file.path.endsWith(".svg") ? "image/svg+xml" : blob.type }),
        );
        if (!cancelled) setImg(url);
      } else if (/\.(csv|tsv)$/i.test(file.path)) {
        const text = (await res.text()).split("\n").slice(0, 11);
        const sep = file.path.endsWith(".tsv") ? "\t" : ",";
        if (!cancelled) setRows(text.filter((l) => l.length > 0).map((l) => l.split(sep)));
      }
    })();
    return () => {
      cancelled = true;
      if (url) URL.revokeObjectURL(url);
    };
  }, [sessionID, file.path]);
  if (img) return <img className="preview-image" src={img} alt={file.path} />;
  if (rows)
    return (
      <table className="preview-table">
        <tbody>
          {rows.map((r, i) => (
            // biome-ignore lint/suspicious/noArrayIndexKey: a static preview
            <tr key={i}>{r.map((c, j) => (i === 0 ? <th key={j}>{c}</th> : <td key={j}>{c}</td>))}</tr>
          ))}
        </tbody>
      </table>
    );
  return <p className="muted">{t.noPreview}</p>;
}

export function FilePanel({
  t,
  sessionID,
  ensureSession,
  rev,
  onError,
}: {
  t: Messages;
  sessionID?: string;
  ensureSession: () => Promise<string>;
  rev: number;
  onError: (msg: string) => void;
}) {
  const [files, setFiles] = useState<FileInfo[]>([]);
  const [selected, setSelected] = useState<FileInfo>();
  const [drag, setDrag] = useState(false);
  const refresh = useCallback(async () => {
    if (!sessionID) {
      setFiles([]);
      return;
    }
    try {
      setFiles((await api.files(sessionID)).filter((f) => !(f as { is_dir?: boolean }).is_dir));
    } catch (e) {
      onError((e as Error).message);
    }
  }, [sessionID, onError]);
  // biome-ignore lint/correctness/useExhaustiveDependencies: refresh when a task moves on
  useEffect(() => {
    void refresh();
  }, [refresh, rev]);
  const upload = async (list: FileList | null) => {
    if (!list || list.length === 0) return;
    try {
      const id = await ensureSession();
      for (const f of Array.from(list)) await api.upload(id, f.name, f);
      const fresh = await api.files(id);
      setFiles(fresh.filter((f) => !(f as { is_dir?: boolean }).is_dir));
    } catch (e) {
      onError((e as Error).message);
    }
  };
  return (
    <section
      className={`files${drag ? " dragging" : ""}`}
      aria-label={t.files}
      onDragOver={(e) => {
        e.preventDefault();
        setDrag(true);
      }}
      onDragLeave={() => setDrag(false)}
      onDrop={(e) => {
        e.preventDefault();
        setDrag(false);
        void upload(e.dataTransfer.files);
      }}
    >
      <header>
        <h2>{t.files}</h2>
        <button type="button" className="link" onClick={() => void refresh()}>
          {t.refresh}
        </button>
      </header>
      <label className="upload">
        {t.upload}
        <input type="file" multiple onChange={(e) => void upload(e.target.files)} data-testid="upload" />
      </label>
      <p className="muted small">{t.dropHere}</p>
      {files.length === 0 ? (
        <p className="muted">{t.noFiles}</p>
      ) : (
        <ul className="file-list">
          {files.map((f) => (
            <li key={f.path} className={selected?.path === f.path ? "selected" : ""}>
              <button
                type="button"
                className="link file-name"
                onClick={() => setSelected(f)}
                title={t.preview}
              >
                {f.path}
              </button>
              <span className="muted small">{formatSize(f.size)}</span>
              {sessionID && (
                <a
                  href={api.fileURL(sessionID, f.path)}
                  download={f.path.split("/").pop()}
                  aria-label={`${t.download} ${f.path}`}
                >
                  ⤓
                </a>
              )}
            </li>
          ))}
        </ul>
      )}
      {selected && sessionID && <Preview sessionID={sessionID} file={selected} t={t} />}
    </section>
  );
}
