# category: sdist
# exit: 0
# stdout: '--verbose': True
"""Usage: prog [--verbose]"""
from docopt import docopt

print(docopt(__doc__, argv=["--verbose"]))
