# category: plain
# exit: 0
# stdout: 2024
from dateutil import parser
import toolz

print(parser.parse("2024-03-01").year, toolz.first([1, 2]))
