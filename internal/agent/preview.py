def _interp_preview(ns):
    import builtins
    import json
    import keyword
    import os
    import sys

    try:
        import pandas as pd
    except ImportError:
        return
    except BaseException:
        # Interrupted (the preview's time limit) halfway through the
        # import: a half-made pandas in sys.modules would break every
        # later import of it, so it goes, to be imported afresh.
        for m in [m for m in sys.modules if m == "pandas" or m.startswith("pandas.")]:
            del sys.modules[m]
        raise
    readers = {
        ".csv": ("pd.read_csv({!r})", lambda p: pd.read_csv(p)),
        ".tsv": ("pd.read_csv({!r}, sep='\\t')", lambda p: pd.read_csv(p, sep="\t")),
        ".xlsx": ("pd.read_excel({!r})", pd.read_excel),
        ".xls": ("pd.read_excel({!r})", pd.read_excel),
        ".json": ("pd.read_json({!r})", pd.read_json),
        ".parquet": ("pd.read_parquet({!r})", pd.read_parquet),
    }
    found = []
    for root, dirs, files in os.walk("."):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))[:5]
        for name in sorted(files):
            ext = os.path.splitext(name)[1].lower()
            if ext in readers and len(found) < 5:
                found.append((os.path.join(root, name)[2:], ext))
    # One table is df, as in every tutorial; more are df_<name>.
    used = set()
    columns = {}
    for path, ext in found:
        var = "df"
        if len(found) > 1:
            stem = "".join(c if c.isalnum() else "_" for c in os.path.splitext(os.path.basename(path))[0].lower())
            var = "df_" + stem
            while var in used:
                var += "_"
        used.add(var)
        expr, read = readers[ext]
        expr = expr.format(path)
        try:
            df = read(path)
        except Exception as e:
            print(f"{path}: not readable as a table ({type(e).__name__})\n")
            continue
        # A name the user's session already has is theirs: keep it.
        if var not in ns:
            ns[var] = df
            how = f"already loaded as {var} = {expr}"
        else:
            how = f"read it with {expr}"
        # Small models name the table after its file whatever the prompt
        # says (sales, sales_df, data): those names work too, where free.
        stem = os.path.splitext(os.path.basename(path))[0]
        aliases = [stem, stem + "_df", "df_" + stem] + (["data"] if len(found) == 1 else [])
        for alias in aliases:
            if (
                alias.isidentifier()
                and not keyword.iskeyword(alias)
                and alias not in ns
                and alias not in sys.modules
                and not hasattr(builtins, alias)
            ):
                ns[alias] = df
        columns[var] = {"path": path, "columns": [str(c) for c in df.columns[:200]]}
        cols = ", ".join(f"{str(c)!r} ({t})" for c, t in list(df.dtypes.items())[:40])
        with pd.option_context("display.width", 160, "display.max_columns", 12, "display.max_colwidth", 24):
            head = df.head(3).to_string()
        print(
            f"{path}: {df.shape[0]} rows x {df.shape[1]} columns, {how}\ncolumns (dtype): {cols}\nfirst rows:\n{head}\n"
        )
    if columns and "pd" not in ns:
        ns["pd"] = pd
    print("#interp-columns " + json.dumps(columns))


_interp_preview(globals())
del _interp_preview
