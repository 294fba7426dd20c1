# category: python2
# exit: 1
# stderr: StringIO is a Python 2 module; in Python 3 use io.StringIO
from StringIO import StringIO

buf = StringIO()
buf.write("hello")
print(buf.getvalue())
