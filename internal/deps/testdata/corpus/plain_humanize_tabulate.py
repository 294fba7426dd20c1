# category: plain
# exit: 0
# stdout: 2 days
import datetime as dt

import humanize
from tabulate import tabulate

print(humanize.naturaldelta(dt.timedelta(days=2)))
print(tabulate([[1, 2]]))
