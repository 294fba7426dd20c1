def _interp_preview():
    import os
    try:
        import pandas as pd
    except ImportError:
        return
    readers = {
        ".csv": lambda p: pd.read_csv(p),
        ".tsv": lambda p: pd.read_csv(p, sep="\t"),
        ".xlsx": pd.read_excel, ".xls": pd.read_excel,
        ".json": pd.read_json, ".parquet": pd.read_parquet,
    }
    shown = 0
    for root, dirs, files in os.walk("."):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))[:5]
        for name in sorted(files):
            path = os.path.join(root, name)[2:]
            read = readers.get(os.path.splitext(name)[1].lower())
            if read is None or shown >= 5:
                continue
            shown += 1
            try:
                df = read(path)
            except Exception as e:
                print(f"{path}: not readable as a table ({type(e).__name__})\n")
                continue
            cols = ", ".join(f"{c} ({t})" for c, t in list(df.dtypes.items())[:40])
            with pd.option_context("display.width", 160, "display.max_columns", 12, "display.max_colwidth", 24):
                head = df.head(3).to_string()
            print(f"{path}: {df.shape[0]} rows x {df.shape[1]} columns\ncolumns (dtype): {cols}\nfirst rows:\n{head}\n")


_interp_preview()
del _interp_preview
