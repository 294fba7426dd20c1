"""Runs code in a sandboxed session: state, a plot, an error, files.

INTERP_URL=http://127.0.0.1:8080 INTERP_API_KEY=ik_... python examples/quickstart.py
"""

import interp

with interp.Sandbox() as sb:  # INTERP_URL and INTERP_API_KEY
    sb.run_code("import math\nr = 2")
    print(sb.run_code("math.pi * r ** 2").text)  # 12.566370614359172

    ex = sb.run_code("import matplotlib.pyplot as plt\nplt.plot([1, 4, 9])")
    png = next(r.png for r in ex.results if r.png)  # the figure, after the value's repr
    open("plot.png", "wb").write(png)

    ex = sb.run_code("1 / 0")
    print(ex.error.name, ex.error.value)  # ZeroDivisionError division by zero

    sb.files.write("data.csv", "a,b\n1,2\n3,4\n")
    sb.run_code("import pandas as pd\npd.read_csv('data.csv').sum().to_csv('sums.csv')")
    print(sb.files.read("sums.csv").decode())

    sb.run_code("for i in range(3): print(i)", on_stdout=lambda text: print("live:", text, end=""))
